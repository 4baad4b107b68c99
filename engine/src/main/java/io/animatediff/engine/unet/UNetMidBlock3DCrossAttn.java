package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.nn.Scoped;

/**
 * Ports animatediff.models.unet_blocks.UNetMidBlock3DCrossAttn: resnet0, then per layer spatial
 * transformer -> motion module (v2 only) -> resnet.
 */
public final class UNetMidBlock3DCrossAttn extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Transformer2DModel> attentions;
    final ModuleList<VanillaTemporalModule> motionModules;

    public UNetMidBlock3DCrossAttn(
            int channels,
            int tembChannels,
            int groups,
            double eps,
            int heads,
            int contextDim,
            int transformerLayers,
            boolean linearProjection,
            MotionModuleConfig motion) {
        attentions = child("attentions", new ModuleList<>());
        attentions.add(
                new Transformer2DModel(channels, heads, contextDim, transformerLayers, groups, linearProjection));
        resnets = child("resnets", new ModuleList<>());
        resnets.add(new ResnetBlock2D(channels, channels, tembChannels, groups, eps));
        resnets.add(new ResnetBlock2D(channels, channels, tembChannels, groups, eps));
        motionModules = motion != null ? child("motion_modules", new ModuleList<>()) : null;
        if (motionModules != null) {
            motionModules.add(new VanillaTemporalModule(channels, motion, contextDim));
        }
    }

    /** x ((B F), C, H, W) -> same. */
    public NDArray forward(NDArray x, BlockContext ctx) {
        // in a scope: only the output outlives the block (its input is a skip and stays)
        return Scoped.forward(() -> body(x, ctx));
    }

    private NDArray body(NDArray x, BlockContext ctx) {
        x = resnets.get(0).forward(x, ctx.temb(), ctx.frames(), ctx.perFrameNorm());
        x = attentions.get(0).forward(x, ctx.context());
        if (motionModules != null) {
            x = motionModules.get(0).forward(x, ctx.context(), ctx.frames(), ctx.motionScale());
        }
        return resnets.get(1).forward(x, ctx.temb(), ctx.frames(), ctx.perFrameNorm());
    }
}
