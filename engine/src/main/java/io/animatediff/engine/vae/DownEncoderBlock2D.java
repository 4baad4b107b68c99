package io.animatediff.engine.vae;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.unet.Downsample2D;
import io.animatediff.engine.unet.ResnetBlock2D;

/**
 * Ports diffusers.models.unets.unet_2d_blocks.DownEncoderBlock2D: resnets without time embedding,
 * then a stride-2 conv with padding 0 after padding right/bottom by one (downsample_padding 0).
 */
public final class DownEncoderBlock2D extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Downsample2D> downsamplers;

    public DownEncoderBlock2D(int in, int out, int layers, int groups, double eps, boolean addDownsample) {
        resnets = child("resnets", new ModuleList<>());
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(i == 0 ? in : out, out, 0, groups, eps));
        }
        downsamplers = addDownsample ? child("downsamplers", new ModuleList<>()) : null;
        if (downsamplers != null) {
            downsamplers.add(new Downsample2D(out, 0));
        }
    }

    /** x (N, Cin, H, W) -> (N, Cout, H', W'), H' = floor(H / 2) with a downsampler, else H. */
    public NDArray forward(NDArray x) {
        for (ResnetBlock2D resnet : resnets) {
            x = resnet.forward(x, null);
        }
        return downsamplers == null ? x : downsamplers.get(0).forward(x);
    }
}
