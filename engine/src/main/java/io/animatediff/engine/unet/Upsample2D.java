package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import io.animatediff.engine.nn.Conv2d;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Scoped;

/** Ports diffusers.models.upsampling.Upsample2D with use_conv: nearest x2 then a 3x3 conv. */
public final class Upsample2D extends Module {
    final Conv2d conv;

    public Upsample2D(int channels) {
        conv = child("conv", new Conv2d(channels, channels, 3, 1, 1));
    }

    /**
     * x (N, C, H, W) -> (N, C, outH, outW): nearest upsampling to 2H x 2W, cut to the skip
     * connection's size when the input was odd (equal to torch's nearest interpolation to that
     * size for outH = 2H - 1).
     */
    public NDArray forward(NDArray x, long outH, long outW) {
        return Scoped.forward(() -> body(x, outH, outW));
    }

    private NDArray body(NDArray x, long outH, long outW) {
        NDArray up = x.repeat(2, 2).repeat(3, 2); // (N, C, 2H, 2W)
        long h = up.getShape().get(2);
        long w = up.getShape().get(3);
        if (outH != h || outW != w) {
            up = up.get(new NDIndex(":, :, :{}, :{}", outH, outW));
        }
        return conv.forward(up);
    }
}
