package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.nn.Scoped;
import java.util.List;

/**
 * Ports animatediff.models.unet_blocks.CrossAttnDownBlock3D (and DownBlock3D when it has no
 * attentions): per layer resnet -> spatial transformer -> motion module, then the downsampler.
 */
public final class CrossAttnDownBlock3D extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Transformer2DModel> attentions;
    final ModuleList<VanillaTemporalModule> motionModules;
    final ModuleList<Downsample2D> downsamplers;

    public CrossAttnDownBlock3D(
            int in,
            int out,
            int layers,
            int tembChannels,
            int groups,
            double eps,
            boolean withAttention,
            int heads,
            int contextDim,
            int transformerLayers,
            boolean linearProjection,
            MotionModuleConfig motion,
            boolean addDownsample) {
        resnets = child("resnets", new ModuleList<>());
        attentions = withAttention ? child("attentions", new ModuleList<>()) : null;
        motionModules = motion != null ? child("motion_modules", new ModuleList<>()) : null;
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(i == 0 ? in : out, out, tembChannels, groups, eps));
            if (attentions != null) {
                attentions.add(
                        new Transformer2DModel(out, heads, contextDim, transformerLayers, groups, linearProjection));
            }
            if (motionModules != null) {
                motionModules.add(new VanillaTemporalModule(out, motion, contextDim));
            }
        }
        downsamplers = addDownsample ? child("downsamplers", new ModuleList<>()) : null;
        if (downsamplers != null) {
            downsamplers.add(new Downsample2D(out, 1));
        }
    }

    /** x ((B F), Cin, H, W) -> ((B F), Cout, H', W'); appends every skip output to {@code skips}. */
    public NDArray forward(NDArray x, BlockContext ctx, List<NDArray> skips) {
        for (int i = 0; i < resnets.size(); i++) {
            NDArray in = x;
            int layer = i;
            // one layer in a scope: the resnet's and the transformer's outputs are freed when the
            // layer returns, not kept until the UNet forward ends; only the skip survives
            x = Scoped.forward(() -> layer(in, layer, ctx));
            skips.add(x);
        }
        if (downsamplers != null) {
            x = downsamplers.get(0).forward(x);
            skips.add(x);
        }
        return x;
    }

    private NDArray layer(NDArray x, int i, BlockContext ctx) {
        x = resnets.get(i).forward(x, ctx.temb(), ctx.frames(), ctx.perFrameNorm());
        if (attentions != null) {
            x = attentions.get(i).forward(x, ctx.context());
        }
        if (motionModules != null) {
            x = motionModules.get(i).forward(x, ctx.context(), ctx.frames(), ctx.motionScale());
        }
        return x;
    }
}
