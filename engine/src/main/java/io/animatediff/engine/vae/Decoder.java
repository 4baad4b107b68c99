package io.animatediff.engine.vae;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.nn.Conv2d;
import io.animatediff.engine.nn.GroupNorm;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.ops.Ops;

/**
 * Ports diffusers.models.autoencoders.vae.Decoder (norm_type "group"): conv_in -> mid block -> up
 * blocks (layers_per_block + 1 resnets each, channels mirrored) -> GroupNorm -> SiLU -> conv_out.
 */
public final class Decoder extends Module {
    final Conv2d convIn;
    final UNetMidBlock2D midBlock;
    final ModuleList<UpDecoderBlock2D> upBlocks;
    final GroupNorm convNormOut;
    final Conv2d convOut;

    public Decoder(AutoencoderKLConfig config) {
        int n = config.numBlocks();
        int groups = config.normNumGroups();
        double eps = Encoder.EPS;
        int top = config.channels(n - 1);
        convIn = child("conv_in", new Conv2d(config.latentChannels(), top, 3, 1, 1));
        midBlock = child("mid_block", new UNetMidBlock2D(top, groups, eps, config.midBlockAddAttention()));
        upBlocks = child("up_blocks", new ModuleList<>());
        int out = top;
        for (int i = 0; i < n; i++) {
            int in = out;
            out = config.channels(n - 1 - i);
            upBlocks.add(new UpDecoderBlock2D(in, out, config.layersPerBlock() + 1, groups, eps, i < n - 1));
        }
        int c0 = config.channels(0);
        convNormOut = child("conv_norm_out", new GroupNorm(groups, c0, eps));
        convOut = child("conv_out", new Conv2d(c0, config.outChannels(), 3, 1, 1));
    }

    /** z (N, L, h, w) -> images (N, Cout, 8h, 8w) for SD's four blocks. */
    public NDArray forward(NDArray z) {
        // 1. input, mid
        NDArray x = midBlock.forward(convIn.forward(z));
        // 2. up
        for (UpDecoderBlock2D up : upBlocks) {
            x = up.forward(x);
        }
        // 3. output
        return convOut.forward(Ops.silu(convNormOut.forward(x)));
    }
}
