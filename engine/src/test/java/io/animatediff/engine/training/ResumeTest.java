package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.weights.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoints: resume equivalence, atomicity markers, corrupt ones passed over, engine-loadable weights. */
class ResumeTest {

    /** batch 1 x 2 micro-batches: 40 clips over 20 steps wrap the 12-clip dataset, so epochs resume too. */
    private static TrainingConfig.Builder config(Path out, int steps) {
        return TrainingFixture.config(out).steps(steps).batchSize(1).gradientAccumulation(2);
    }

    @Test
    void twentyStepsStraightEqualTenPlusCrashPlusTen(@TempDir Path straightDir, @TempDir Path crashDir)
            throws Exception {
        // 1. straight
        try (MotionTrainer t =
                MotionTrainer.open(config(straightDir, 20).build(), TrainingFixture.data(), TrainingListener.NONE)) {
            t.train();
        }
        // 2. ten steps, then the process "dies": nothing survives but the output folder
        try (MotionTrainer t =
                MotionTrainer.open(config(crashDir, 10).build(), TrainingFixture.data(), TrainingListener.NONE)) {
            t.train();
        }
        List<String> messages = new ArrayList<>();
        TrainingListener record = new TrainingListener() {
            @Override
            public void onMessage(String message) {
                messages.add(message);
            }
        };
        try (MotionTrainer t =
                MotionTrainer.open(config(crashDir, 20).resume(true).build(), TrainingFixture.data(), record)) {
            assertEquals(10, t.stepsDone());
            t.train();
        }
        assertTrue(
                messages.stream().anyMatch(m -> m.startsWith("resuming from ") && m.contains("step-10")),
                messages.toString());

        Path a = TrainingCheckpoint.dir(straightDir, 20);
        Path b = TrainingCheckpoint.dir(crashDir, 20);
        for (String file : List.of(TrainingCheckpoint.MOTION_MODULE, TrainingCheckpoint.OPTIMIZER)) {
            try (SafetensorsFile x = SafetensorsFile.open(a.resolve(file));
                    SafetensorsFile y = SafetensorsFile.open(b.resolve(file))) {
                assertEquals(x.keys(), y.keys(), file);
                for (String k : x.keys()) {
                    Close.assertClose(y.loadFloats(k), x.loadFloats(k), 1e-6, 1e-5, file + " " + k);
                }
            }
        }
        TrainingCheckpoint.State sa = TrainingCheckpoint.verify(a, 20);
        TrainingCheckpoint.State sb = TrainingCheckpoint.verify(b, 20);
        assertEquals(sa.epoch(), sb.epoch());
        assertEquals(sa.line(), sb.line());
        assertEquals(40, sb.clipsSeen());
        assertTrue(sb.epoch() >= 3, "40 clips of a 12-clip dataset reach epoch 3, got " + sb.epoch());
        assertEquals(sa.lastLoss(), sb.lastLoss(), 1e-6 + 1e-5 * Math.abs(sa.lastLoss()));
    }

    @Test
    void partialAndCorruptCheckpointsAreSkippedWithAMessage(@TempDir Path out) throws Exception {
        try (MotionTrainer t = MotionTrainer.open(
                config(out, 3).checkpointEvery(1).build(), TrainingFixture.data(), TrainingListener.NONE)) {
            t.train();
        }
        // step-3: the marker never made it (a crash between the data files and the marker)
        Files.delete(TrainingCheckpoint.dir(out, 3).resolve(TrainingCheckpoint.COMPLETE));
        // step-2: a flipped byte in the optimizer state
        Path optimizer = TrainingCheckpoint.dir(out, 2).resolve(TrainingCheckpoint.OPTIMIZER);
        byte[] bytes = Files.readAllBytes(optimizer);
        bytes[bytes.length - 3] ^= 0x40;
        Files.write(optimizer, bytes, StandardOpenOption.TRUNCATE_EXISTING);
        // a temporary folder of an interrupted write is not a checkpoint at all
        Files.createDirectories(out.resolve(".step-4.partial-x1"));

        List<String> messages = new ArrayList<>();
        TrainingListener record = new TrainingListener() {
            @Override
            public void onMessage(String message) {
                messages.add(message);
            }
        };
        try (MotionTrainer t =
                MotionTrainer.open(config(out, 3).resume(true).build(), TrainingFixture.data(), record)) {
            assertEquals(1, t.stepsDone(), "resumes from the newest intact checkpoint: " + messages);
        }
        String text = String.join("\n", messages);
        assertTrue(
                text.contains("skipping checkpoint " + TrainingCheckpoint.dir(out, 3) + ": no COMPLETE marker"), text);
        assertTrue(
                text.contains("skipping checkpoint " + TrainingCheckpoint.dir(out, 2)
                        + ": corrupt (optimizer.safetensors" + " has SHA-256"),
                text);
        assertTrue(text.contains("resuming from " + TrainingCheckpoint.dir(out, 1)), text);
        assertFalse(text.contains(".step-4"), text);
    }

    @Test
    void resumeWithoutCheckpointsStartsAtZeroAndSaysSo(@TempDir Path out) throws Exception {
        List<String> messages = new ArrayList<>();
        TrainingListener record = new TrainingListener() {
            @Override
            public void onMessage(String message) {
                messages.add(message);
            }
        };
        try (MotionTrainer t =
                MotionTrainer.open(config(out, 3).resume(true).build(), TrainingFixture.data(), record)) {
            assertEquals(0, t.stepsDone());
        }
        assertTrue(messages.get(0).startsWith("no complete checkpoint in "), messages.toString());
    }

    @Test
    void resumingAMotionModuleRunAsMotionLoraIsRefused(@TempDir Path out) throws Exception {
        try (MotionTrainer t =
                MotionTrainer.open(config(out, 1).build(), TrainingFixture.data(), TrainingListener.NONE)) {
            t.train();
        }
        TrainingConfig lora = config(out, 2)
                .resume(true)
                .motionModule(TrainingFixture.motion())
                .loraRank(2)
                .build();
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> MotionTrainer.open(lora, TrainingFixture.data(), TrainingListener.NONE));
        assertTrue(e.getMessage().contains("pass the same --motion-lora rank"), e.getMessage());
    }

    @Test
    void checkpointedMotionModuleLoadsInTheEngine(@TempDir Path out) throws Exception {
        Map<String, float[]> trained = new java.util.LinkedHashMap<>();
        try (MotionTrainer t =
                MotionTrainer.open(config(out, 2).build(), TrainingFixture.data(), TrainingListener.NONE)) {
            t.train();
            t.trainableParameters().forEach((k, p) -> trained.put(k, p.get().toFloatArray()));
        }
        Path file = TrainingCheckpoint.dir(out, 2).resolve(TrainingCheckpoint.MOTION_MODULE);
        try (AnimateDiffModel m =
                ModelLoader.load(TrainingFixture.base(), file, MotionModuleConfig.MotionNorm.OFFICIAL, List.of())) {
            assertEquals(MotionModuleConfig.tiny(false), m.unet().motion());
            Map<String, Param> loaded = m.unet().namedTensors();
            trained.forEach((k, v) -> Close.assertClose(loaded.get(k).get().toFloatArray(), v, 0, 0, k));
        }
    }
}
