package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.nn.Scoped;
import java.util.List;

/**
 * Ports animatediff.models.unet_blocks.CrossAttnUpBlock3D (and UpBlock3D when it has no
 * attentions): per layer concat(skip) -> resnet -> spatial transformer -> motion module, then the
 * upsampler.
 */
public final class CrossAttnUpBlock3D extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Transformer2DModel> attentions;
    final ModuleList<VanillaTemporalModule> motionModules;
    final ModuleList<Upsample2D> upsamplers;

    public CrossAttnUpBlock3D(
            int in,
            int prevOut,
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
            boolean addUpsample) {
        resnets = child("resnets", new ModuleList<>());
        attentions = withAttention ? child("attentions", new ModuleList<>()) : null;
        motionModules = motion != null ? child("motion_modules", new ModuleList<>()) : null;
        for (int i = 0; i < layers; i++) {
            int skip = i == layers - 1 ? in : out;
            int resIn = i == 0 ? prevOut : out;
            resnets.add(new ResnetBlock2D(resIn + skip, out, tembChannels, groups, eps));
            if (attentions != null) {
                attentions.add(
                        new Transformer2DModel(out, heads, contextDim, transformerLayers, groups, linearProjection));
            }
            if (motionModules != null) {
                motionModules.add(new VanillaTemporalModule(out, motion, contextDim));
            }
        }
        upsamplers = addUpsample ? child("upsamplers", new ModuleList<>()) : null;
        if (upsamplers != null) {
            upsamplers.add(new Upsample2D(out));
        }
    }

    public int layers() {
        return resnets.size();
    }

    /**
     * x ((B F), C, H, W); takes its skips from the end of {@code skips} (removing them); upsamples to
     * the next skip's size. Consumes its input and the skips it takes: each is closed as soon as the
     * layer that read it returns, so the up path's memory falls as it goes (at 512x512, 16 frames and
     * CFG they had kept ~5 GB alive until the UNet forward ended).
     */
    public NDArray forward(NDArray x, BlockContext ctx, List<NDArray> skips) {
        for (int i = 0; i < resnets.size(); i++) {
            NDArray skip = skips.remove(skips.size() - 1);
            NDArray in = x;
            int layer = i;
            x = Scoped.forward(() -> layer(in, skip, layer, ctx));
            in.close();
            skip.close();
        }
        if (upsamplers != null) {
            NDArray next = skips.get(skips.size() - 1);
            NDArray in = x;
            x = upsamplers
                    .get(0)
                    .forward(in, next.getShape().get(2), next.getShape().get(3));
            in.close();
        }
        return x;
    }

    private NDArray layer(NDArray x, NDArray skip, int i, BlockContext ctx) {
        x = resnets.get(i)
                .forward(
                        x.concat(skip, 1), // ((B F), C + Cskip, H, W)
                        ctx.temb(),
                        ctx.frames(),
                        ctx.perFrameNorm());
        if (attentions != null) {
            x = attentions.get(i).forward(x, ctx.context());
        }
        if (motionModules != null) {
            x = motionModules.get(i).forward(x, ctx.context(), ctx.frames(), ctx.motionScale());
        }
        return x;
    }
}
