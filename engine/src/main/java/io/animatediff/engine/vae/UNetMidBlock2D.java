package io.animatediff.engine.vae;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.unet.ResnetBlock2D;

/**
 * Ports diffusers.models.unets.unet_2d_blocks.UNetMidBlock2D as the VAE uses it (one layer, no time
 * embedding, output_scale_factor 1, single-head attention): resnet 0 -> attention -> resnet 1.
 */
public final class UNetMidBlock2D extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<VaeAttention> attentions;

    /** {@code addAttention} false leaves the block with its two resnets (mid_block_add_attention). */
    public UNetMidBlock2D(int channels, int groups, double eps, boolean addAttention) {
        resnets = child("resnets", new ModuleList<>());
        attentions = addAttention ? child("attentions", new ModuleList<>()) : null;
        resnets.add(new ResnetBlock2D(channels, channels, 0, groups, eps));
        if (attentions != null) {
            attentions.add(new VaeAttention(channels, 1, groups, eps, 1.0));
        }
        resnets.add(new ResnetBlock2D(channels, channels, 0, groups, eps));
    }

    /** x (N, C, H, W) -> (N, C, H, W). */
    public NDArray forward(NDArray x) {
        x = resnets.get(0).forward(x, null);
        if (attentions != null) {
            x = attentions.get(0).forward(x);
        }
        return resnets.get(1).forward(x, null);
    }
}
