package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.nn.LayerNorm;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;

/**
 * Ports animatediff.models.motion_module.TemporalTransformerBlock: for each temporal self-attention
 * h = attn(norm(h)) + h, then h = ff(ff_norm(h)) + h.
 */
public final class TemporalTransformerBlock extends Module {
    final ModuleList<VersatileAttention> attentionBlocks;
    final ModuleList<LayerNorm> norms;
    final FeedForward ff;
    final LayerNorm ffNorm;

    public TemporalTransformerBlock(int dim, int heads, int attentionBlocks, int maxFrames) {
        this.attentionBlocks = child("attention_blocks", new ModuleList<>());
        norms = child("norms", new ModuleList<>());
        for (int i = 0; i < attentionBlocks; i++) {
            this.attentionBlocks.add(new VersatileAttention(dim, heads, maxFrames, true));
            norms.add(new LayerNorm(dim, 1e-5));
        }
        ff = child("ff", new FeedForward(dim));
        ffNorm = child("ff_norm", new LayerNorm(dim, 1e-5));
    }

    /**
     * x ((B H W), F, C) -> same. The motion scale multiplies every temporal attention's logits
     * (1 = the reference; AnimateDiff-Evolved's "motion scale", applied to the keys).
     */
    public NDArray forward(NDArray x, double motionScale) {
        for (int i = 0; i < attentionBlocks.size(); i++) {
            NDArray a = attentionBlocks.get(i).forward(norms.get(i).forward(x), motionScale);
            x = a.add(x);
        }
        return ff.forward(ffNorm.forward(x)).add(x);
    }
}
