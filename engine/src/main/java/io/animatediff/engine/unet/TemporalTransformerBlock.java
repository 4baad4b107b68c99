package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.LayerNorm;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import java.util.List;

/**
 * Ports animatediff.models.motion_module.TemporalTransformerBlock: for each temporal attention of
 * attention_block_types (self, or cross to the text) h = attn(norm(h)) + h, then h = ff(ff_norm(h)) + h.
 */
public final class TemporalTransformerBlock extends Module {
    final ModuleList<VersatileAttention> attentionBlocks;
    final ModuleList<LayerNorm> norms;
    final FeedForward ff;
    final LayerNorm ffNorm;

    /** {@code types}: Temporal_Self / Temporal_Cross per attention; contextDim the text's width. */
    public TemporalTransformerBlock(int dim, int heads, List<String> types, int contextDim, int maxFrames) {
        this.attentionBlocks = child("attention_blocks", new ModuleList<>());
        norms = child("norms", new ModuleList<>());
        for (String type : types) {
            int ctx = type.equals(MotionModuleConfig.TEMPORAL_CROSS) ? contextDim : 0;
            this.attentionBlocks.add(new VersatileAttention(dim, ctx, heads, maxFrames, true));
            norms.add(new LayerNorm(dim, 1e-5));
        }
        ff = child("ff", new FeedForward(dim));
        ffNorm = child("ff_norm", new LayerNorm(dim, 1e-5));
    }

    /**
     * x ((B H W), F, C) -> same. The motion scale multiplies every temporal attention's logits
     * (1 = the reference; AnimateDiff-Evolved's "motion scale", applied to the keys). {@code text}
     * (B, S, Cctx) feeds the Temporal_Cross attentions (null when there are none).
     */
    public NDArray forward(NDArray x, NDArray text, double motionScale) {
        for (int i = 0; i < attentionBlocks.size(); i++) {
            NDArray a = attentionBlocks.get(i).attend(norms.get(i).forward(x), text, motionScale);
            x = a.add(x);
        }
        return ff.forward(ffNorm.forward(x)).add(x);
    }
}
