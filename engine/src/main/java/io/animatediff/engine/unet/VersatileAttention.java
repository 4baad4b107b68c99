package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Scoped;

/**
 * Ports animatediff.models.motion_module.VersatileAttention in "Temporal" mode: attention across the
 * frame axis of each spatial position, with the sinusoidal positions added to the (already normed)
 * input. Self-attention ("Temporal_Self") by default; with a context dimension ("Temporal_Cross") the
 * frames of every position attend to the prompt's tokens instead (the official code repeats the text
 * per position, "b n c -> (b d) n c"; here the queries of all positions share one sequence per
 * sample, the same result without the copies).
 */
public final class VersatileAttention extends Attention {
    final PositionalEncoding posEncoder;

    final boolean cross;

    public VersatileAttention(int dim, int heads, int maxFrames, boolean positionEncoding) {
        this(dim, 0, heads, maxFrames, positionEncoding);
    }

    /** contextDim 0: Temporal_Self; otherwise Temporal_Cross over text of that width. */
    public VersatileAttention(int dim, int contextDim, int heads, int maxFrames, boolean positionEncoding) {
        super(dim, contextDim, heads, dim / heads);
        cross = contextDim > 0;
        posEncoder = positionEncoding ? child("pos_encoder", new PositionalEncoding(dim, maxFrames)) : null;
    }

    /** x ((B H W), F, C) -> ((B H W), F, C). */
    public NDArray forward(NDArray x) {
        return forward(x, 1.0);
    }

    /**
     * x ((B H W), F, C) -> ((B H W), F, C) with the attention logits multiplied by {@code motionScale}
     * (AnimateDiff-Evolved's VersatileAttention.set_scale_multiplier: above 1 sharper temporal
     * attention and more motion, below 1 flatter attention and less; 1 is the reference).
     */
    public NDArray forward(NDArray x, double motionScale) {
        if (cross) {
            throw new IllegalStateException("a Temporal_Cross attention needs the text: use attend(x, text, scale)");
        }
        NDArray in = posEncoder == null ? x : posEncoder.forward(x);
        return forward(in, null, motionScale);
    }

    /**
     * x ((B H W), F, C), text (B, S, Cctx) (used by a Temporal_Cross attention only) -> ((B H W), F, C).
     */
    public NDArray attend(NDArray x, NDArray text, double motionScale) {
        if (!cross) {
            return forward(x, motionScale);
        }
        return Scoped.forward(() -> {
            NDArray in = posEncoder == null ? x : posEncoder.forward(x);
            Shape s = in.getShape();
            long b = text.getShape().get(0);
            NDArray q = in.reshape(b, s.get(0) / b * s.get(1), s.get(2)); // (B, H*W*F, C)
            return forward(q, text, motionScale).reshape(s); // ((B H W), F, C)
        });
    }
}
