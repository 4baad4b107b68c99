package io.animatediff.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.unet.ResnetBlock2D;
import io.animatediff.engine.unet.Upsample2D;

/**
 * Ports diffusers.models.unets.unet_2d_blocks.UpDecoderBlock2D: resnets without time embedding,
 * then nearest x2 upsampling and a 3x3 conv.
 */
public final class UpDecoderBlock2D extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Upsample2D> upsamplers;

    public UpDecoderBlock2D(int in, int out, int layers, int groups, double eps, boolean addUpsample) {
        resnets = child("resnets", new ModuleList<>());
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(i == 0 ? in : out, out, 0, groups, eps));
        }
        upsamplers = addUpsample ? child("upsamplers", new ModuleList<>()) : null;
        if (upsamplers != null) {
            upsamplers.add(new Upsample2D(out));
        }
    }

    /** x (N, Cin, H, W) -> (N, Cout, 2H, 2W) with an upsampler, else (N, Cout, H, W). */
    public NDArray forward(NDArray x) {
        for (ResnetBlock2D resnet : resnets) {
            x = resnet.forward(x, null);
        }
        if (upsamplers == null) {
            return x;
        }
        Shape s = x.getShape();
        return upsamplers.get(0).forward(x, 2 * s.get(2), 2 * s.get(3));
    }
}
