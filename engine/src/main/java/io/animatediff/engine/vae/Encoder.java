package io.animatediff.engine.vae;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.nn.Conv2d;
import io.animatediff.engine.nn.GroupNorm;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.ops.Ops;

/**
 * Ports diffusers.models.autoencoders.vae.Encoder (double_z): conv_in -> down blocks -> mid block
 * -> GroupNorm -> SiLU -> conv_out to 2 L channels (mean and log-variance).
 */
public final class Encoder extends Module {
    /** The reference's fixed epsilon for every VAE norm. */
    static final double EPS = 1e-6;

    final Conv2d convIn;
    final ModuleList<DownEncoderBlock2D> downBlocks;
    final UNetMidBlock2D midBlock;
    final GroupNorm convNormOut;
    final Conv2d convOut;

    public Encoder(AutoencoderKLConfig config) {
        int n = config.numBlocks();
        int groups = config.normNumGroups();
        convIn = child("conv_in", new Conv2d(config.inChannels(), config.channels(0), 3, 1, 1));
        downBlocks = child("down_blocks", new ModuleList<>());
        int out = config.channels(0);
        for (int i = 0; i < n; i++) {
            int in = out;
            out = config.channels(i);
            downBlocks.add(new DownEncoderBlock2D(in, out, config.layersPerBlock(), groups, EPS, i < n - 1));
        }
        int top = config.channels(n - 1);
        midBlock = child("mid_block", new UNetMidBlock2D(top, groups, EPS, config.midBlockAddAttention()));
        convNormOut = child("conv_norm_out", new GroupNorm(groups, top, EPS));
        convOut = child("conv_out", new Conv2d(top, 2L * config.latentChannels(), 3, 1, 1));
    }

    /** images (N, Cin, H, W) -> moments (N, 2 L, H / 8, W / 8) for SD's four blocks. */
    public NDArray forward(NDArray images) {
        // 1. input
        NDArray x = convIn.forward(images);
        // 2. down, mid
        for (DownEncoderBlock2D down : downBlocks) {
            x = down.forward(x);
        }
        x = midBlock.forward(x);
        // 3. output
        return convOut.forward(Ops.silu(convNormOut.forward(x)));
    }
}
