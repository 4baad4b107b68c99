package io.animatediff.engine.pipeline;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.model.TinyModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** One tiny seeded model on disk per test JVM: a diffusers folder and a motion module file. */
final class TinyModelFixture {
    private static Path dir;

    private TinyModelFixture() {}

    static synchronized Path dir() {
        if (dir == null) {
            try {
                dir = Files.createTempDirectory("animatediff-tiny");
                TinyModels.writeBaseModel(dir.resolve("base"), 0);
                TinyModels.writeMotionModule(
                        dir.resolve("motion.safetensors"), MotionModuleConfig.tiny(false), 100, true);
                TinyModels.writeMotionModule(
                        dir.resolve("motion-zero.safetensors"), MotionModuleConfig.tiny(false), 100, false);
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

    static Path zeroMotion() {
        return dir().resolve("motion-zero.safetensors");
    }

    /** The tiny model with its motion module, loaded (the caller closes it). */
    static AnimateDiffModel load() throws IOException {
        return ModelLoader.load(base(), motion(), MotionModuleConfig.MotionNorm.OFFICIAL, List.of());
    }

    /** A small, fast run of the tiny model: 4 frames of 64x64, 3 steps, seed 7. */
    static AnimationParams.Builder small() {
        return AnimationParams.builder()
                .prompt("a red circle moving left")
                .frames(4)
                .size(64, 64)
                .steps(3)
                .seed(7);
    }
}
