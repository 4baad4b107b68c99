package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.nn.LayerNorm;
import io.animatediff.engine.nn.Module;

/**
 * Ports diffusers.models.attention.BasicTransformerBlock (SD1.5 form): self-attention, cross
 * attention to the text, GEGLU feed-forward, each pre-normed with LayerNorm and residual.
 */
public final class BasicTransformerBlock extends Module {
    final LayerNorm norm1;
    final Attention attn1;
    final LayerNorm norm2;
    final Attention attn2;
    final LayerNorm norm3;
    final FeedForward ff;

    public BasicTransformerBlock(int dim, int heads, int headDim, int contextDim) {
        norm1 = child("norm1", new LayerNorm(dim, 1e-5));
        attn1 = child("attn1", new Attention(dim, 0, heads, headDim));
        norm2 = child("norm2", new LayerNorm(dim, 1e-5));
        attn2 = child("attn2", new Attention(dim, contextDim, heads, headDim));
        norm3 = child("norm3", new LayerNorm(dim, 1e-5));
        ff = child("ff", new FeedForward(dim));
    }

    /** x (B, S, C), context (B, Sk, Cctx) -> (B, S, C). */
    public NDArray forward(NDArray x, NDArray context) {
        x = attn1.forward(norm1.forward(x), null).add(x);
        x = attn2.forward(norm2.forward(x), context).add(x);
        return ff.forward(norm3.forward(x)).add(x);
    }
}
