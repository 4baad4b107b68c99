package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Scoped;
import java.util.function.IntConsumer;

/** Ports animatediff.models.motion_module.VanillaTemporalModule: one motion module. */
public final class VanillaTemporalModule extends Module {
    final TemporalTransformer3DModel temporalTransformer;
    private final boolean perFrameNorm;
    private volatile IntConsumer observer;

    private final boolean attendsToText;

    /** contextDim: the text embedding's width, read by Temporal_Cross attentions. */
    public VanillaTemporalModule(int channels, MotionModuleConfig cfg, int contextDim) {
        temporalTransformer = child(
                "temporal_transformer",
                new TemporalTransformer3DModel(
                        channels,
                        cfg.heads(),
                        cfg.transformerBlocks(),
                        cfg.normGroups(),
                        cfg.maxFrames(),
                        cfg.attentionBlockTypes(),
                        contextDim));
        perFrameNorm = cfg.motionNorm() == MotionModuleConfig.MotionNorm.OFFICIAL;
        attendsToText = cfg.attendsToText();
    }

    /** x ((B F), C, H, W) -> same. */
    public NDArray forward(NDArray x, int frames, double motionScale) {
        return forward(x, null, frames, motionScale);
    }

    /**
     * x ((B F), C, H, W), context ((B F), S, Cctx): the per-frame text of the UNet's blocks, of which
     * a Temporal_Cross attention reads the first frame's (B, S, Cctx) -> ((B F), C, H, W).
     */
    public NDArray forward(NDArray x, NDArray context, int frames, double motionScale) {
        IntConsumer o = observer;
        if (o != null) {
            o.accept(frames);
        }
        if (!attendsToText) {
            return temporalTransformer.forward(x, null, frames, perFrameNorm, motionScale);
        }
        if (context == null) {
            throw new IllegalArgumentException("this motion module attends to the text (Temporal_Cross): pass it");
        }
        return Scoped.forward(() -> {
            Shape s = context.getShape();
            NDArray text = context.reshape(s.get(0) / frames, frames, s.get(1), s.get(2))
                    .get(":, 0"); // (B, S, Cctx)
            return temporalTransformer.forward(x, text, frames, perFrameNorm, motionScale);
        });
    }

    /** Tells {@code frameCounts} the frame count F of every forward call (null stops telling). */
    public void observeFrames(IntConsumer frameCounts) {
        observer = frameCounts;
    }
}
