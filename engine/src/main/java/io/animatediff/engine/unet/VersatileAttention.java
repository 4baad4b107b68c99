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
        NDArray in = posEncoder == null ? x : posEncoder.forward(x);
        return forward(in, null);
    }
}
