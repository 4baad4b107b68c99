package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;

/**
 * Ports animatediff.models.motion_module.VersatileAttention in "Temporal" mode: self-attention
 * across the frame axis of each spatial position, with the sinusoidal positions added to the
 * (already normed) input.
 */
public final class VersatileAttention extends Attention {
    final PositionalEncoding posEncoder;

    public VersatileAttention(int dim, int heads, int maxFrames, boolean positionEncoding) {
        super(dim, 0, heads, dim / heads);
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
        NDArray in = posEncoder == null ? x : posEncoder.forward(x);
        return forward(in, null, motionScale);
    }
}
