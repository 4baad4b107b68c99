package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.Module;
import java.util.function.IntConsumer;

/** Ports animatediff.models.motion_module.VanillaTemporalModule: one motion module. */
public final class VanillaTemporalModule extends Module {
    final TemporalTransformer3DModel temporalTransformer;
    private final boolean perFrameNorm;
    private volatile IntConsumer observer;

    public VanillaTemporalModule(int channels, MotionModuleConfig cfg) {
        temporalTransformer = child(
                "temporal_transformer",
                new TemporalTransformer3DModel(
                        channels, cfg.heads(), cfg.transformerBlocks(), cfg.normGroups(), cfg.maxFrames()));
        perFrameNorm = cfg.motionNorm() == MotionModuleConfig.MotionNorm.OFFICIAL;
    }

    /** x ((B F), C, H, W) -> same. */
    public NDArray forward(NDArray x, int frames, double motionScale) {
        IntConsumer o = observer;
        if (o != null) {
            o.accept(frames);
        }
        return temporalTransformer.forward(x, frames, perFrameNorm, motionScale);
    }

    /** Tells {@code frameCounts} the frame count F of every forward call (null stops telling). */
    public void observeFrames(IntConsumer frameCounts) {
        observer = frameCounts;
    }
}
