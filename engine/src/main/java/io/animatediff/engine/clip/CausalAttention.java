package io.animatediff.engine.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Masked scaled dot-product attention for CLIP's causal self-attention (transformers'
 * eager_attention_forward with the causal mask of CLIPTextTransformer): softmax(q k^T * scale +
 * mask) v, composed from DJL ops next to {@link io.animatediff.engine.ops.Ops#attention}, which
 * takes no mask.
 */
public final class CausalAttention {
    private CausalAttention() {}

    /** The additive causal mask (S, S) on {@code manager}: 0 on and below the diagonal, -inf above. */
    public static NDArray mask(NDManager manager, int tokens) {
        float[] m = new float[tokens * tokens];
        for (int i = 0; i < tokens; i++) {
            for (int j = i + 1; j < tokens; j++) {
                m[i * tokens + j] = Float.NEGATIVE_INFINITY;
            }
        }
        return manager.create(m, new Shape(tokens, tokens));
    }

    /**
     * q, k, v (B, N, S, D), mask (S, S) additive -> (B, N, S, D). Every row keeps its diagonal, so no
     * row is fully masked.
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask, double scale) {
        NDArray scores = q.matMul(k.swapAxes(-1, -2)).mul(scale).add(mask); // (B, N, S, S)
        return scores.softmax(-1).matMul(v); // (B, N, S, D)
    }
}
