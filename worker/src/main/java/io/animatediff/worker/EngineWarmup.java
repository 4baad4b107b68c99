package io.animatediff.worker;

import ai.djl.engine.Engine;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.StepListener;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the engine warm before the worker reports ready: libtorch loaded, and one tiny forward
 * (the built-in model, 2 frames, 1 step with guidance, decoded) so the first job pays no
 * first-call costs (native library load, fused kernels, JIT of the hot paths).
 */
public final class EngineWarmup {
    private static final Logger LOG = LoggerFactory.getLogger(EngineWarmup.class);

    private EngineWarmup() {}

    /** Runs the warm-up in a scratch folder under {@code scratch}; returns its duration in ms. */
    public static long run(Path scratch) {
        long t0 = System.nanoTime();
        Engine engine = Engine.getEngine("PyTorch");
        Path dir = null;
        try {
            dir = Files.createTempDirectory(Files.createDirectories(scratch), "warmup-");
            BuiltinModels.write(dir);
            try (AnimateDiffModel model = ModelLoader.load(
                    dir.resolve("base"),
                    dir.resolve(BuiltinModels.MOTION_FILE),
                    MotionModuleConfig.MotionNorm.OFFICIAL,
                    List.of())) {
                AnimationParams p = AnimationParams.builder()
                        .prompt("warm up")
                        .frames(2)
                        .size(64, 64)
                        .steps(1)
                        .guidanceScale(7.5)
                        .seed(0)
                        .build();
                new AnimationPipeline(model).run(p, StepListener.NONE, true);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "engine warm-up could not write its tiny model under " + scratch + ": " + e.getMessage()
                            + ": check " + WorkerConfig.ENV_CACHE_DIR,
                    e);
        } finally {
            if (dir != null) {
                try {
                    ModelDiskCache.deleteTree(dir);
                } catch (IOException e) {
                    LOG.warn("could not delete warm-up folder {}: {}", dir, e.toString());
                }
            }
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        LOG.info("engine warm: {} {} in {} ms", engine.getEngineName(), engine.getVersion(), ms);
        return ms;
    }
}
