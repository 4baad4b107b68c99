package io.animatediff.engine.pipeline;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.TinyModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

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
}
