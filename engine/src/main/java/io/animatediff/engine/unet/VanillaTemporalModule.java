package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.Module;

/** Ports animatediff.models.motion_module.VanillaTemporalModule: one motion module. */
public final class VanillaTemporalModule extends Module {
    final TemporalTransformer3DModel temporalTransformer;
    private final boolean perFrameNorm;

    public VanillaTemporalModule(int channels, MotionModuleConfig cfg) {
        temporalTransformer = child(
                "temporal_transformer",
                new TemporalTransformer3DModel(
                        channels, cfg.heads(), cfg.transformerBlocks(), cfg.normGroups(), cfg.maxFrames()));
        perFrameNorm = cfg.motionNorm() == MotionModuleConfig.MotionNorm.OFFICIAL;
    }

    /** x ((B F), C, H, W) -> same. */
    public NDArray forward(NDArray x, int frames, double motionScale) {
        return temporalTransformer.forward(x, frames, perFrameNorm, motionScale);
    }
}
