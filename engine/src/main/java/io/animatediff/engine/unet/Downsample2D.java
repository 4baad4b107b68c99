package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.nn.Conv2d;
import io.animatediff.engine.nn.Module;

/** Ports diffusers.models.downsampling.Downsample2D with use_conv: 3x3 conv, stride 2, padding 1. */
public final class Downsample2D extends Module {
    final Conv2d conv;

    public Downsample2D(int channels, int padding) {
        conv = child("conv", new Conv2d(channels, channels, 3, 2, padding));
    }

    /** (N, C, H, W) -> (N, C, floor((H + 2p - 3) / 2) + 1, ...); padding 0 pads right/bottom by one first (VAE). */
    public NDArray forward(NDArray x) {
        if (conv.padding == 0) {
            // diffusers pads (0, 1, 0, 1) before a padding-0 stride-2 conv (the VAE encoder)
            x = x.pad(new ai.djl.ndarray.types.Shape(0, 1, 0, 1), 0);
        }
        return conv.forward(x);
    }
}
