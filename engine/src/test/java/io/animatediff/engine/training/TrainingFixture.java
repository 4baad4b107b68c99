package io.animatediff.engine.training;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.TinyModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One tiny seeded world per test JVM: a base model, a trained-looking motion module and a synthetic dataset. */
final class TrainingFixture {
    static final int FRAMES = 8;
    static final int SIZE = 32;
    private static Path dir;

    private TrainingFixture() {}

    static synchronized Path dir() {
        if (dir == null) {
            try {
                dir = Files.createTempDirectory("animatediff-training");
                TinyModels.writeBaseModel(dir.resolve("base"), 0);
                TinyModels.writeMotionModule(
                        dir.resolve("motion.safetensors"), MotionModuleConfig.tiny(false), 100, true);
                SyntheticClips.write(dir.resolve("data"), 12, 12, 40, 5);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return dir;
    }

    static Path base() {
        return dir().resolve("base");
    }

    static Path motion() {
        return dir().resolve("motion.safetensors");
    }

    static DatasetSource data() {
        return new FolderDatasetSource(dir().resolve("data"));
    }

    /** A fast configuration: fresh tiny motion module, 8 frames of 32 px, batch 2, a higher learning rate. */
    static TrainingConfig.Builder config(Path out) {
        return TrainingConfig.builder()
                .baseModel(base())
                .freshMotion(MotionModuleConfig.tiny(false))
                .outDir(out)
                .steps(10)
                .batchSize(2)
                .frames(FRAMES)
                .stride(1)
                .size(SIZE)
                .learningRate(1e-3)
                .checkpointEvery(1000)
                .validationPrompts(java.util.List.of("a red circle moving left"))
                .validationSteps(2)
                .seed(7);
    }

    /** The motion module and optimizer state of two checkpoint folders agree bit for bit. */
    /** A listener that appends each step's loss to {@code losses}. */
    static TrainingListener lossesInto(java.util.List<Double> losses) {
        return new TrainingListener() {
            @Override
            public void onStep(StepReport report) {
                losses.add(report.loss());
            }
        };
    }

    static void assertSameWeights(Path a, Path b) throws java.io.IOException {
        for (String file : java.util.List.of(TrainingCheckpoint.MOTION_MODULE, TrainingCheckpoint.OPTIMIZER)) {
            try (io.animatediff.engine.weights.SafetensorsFile x =
                            io.animatediff.engine.weights.SafetensorsFile.open(a.resolve(file));
                    io.animatediff.engine.weights.SafetensorsFile y =
                            io.animatediff.engine.weights.SafetensorsFile.open(b.resolve(file))) {
                org.junit.jupiter.api.Assertions.assertEquals(x.keys(), y.keys(), file);
                for (String k : x.keys()) {
                    org.junit.jupiter.api.Assertions.assertArrayEquals(
                            x.loadFloats(k), y.loadFloats(k), file + " " + k + " bit-identical");
                }
            }
        }
    }
}
