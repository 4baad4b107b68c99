package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.nn.Conv2d;
import io.animatediff.engine.nn.GroupNorm;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.nn.Scoped;
import io.animatediff.engine.ops.Ops;
import java.util.ArrayList;
import java.util.List;

/**
 * Ports animatediff.models.unet.UNet3DConditionModel: the SD UNet inflated to video, spatial
 * layers applied per frame, motion modules after every resnet(+attention) of the down and up blocks
 * (and in the mid block for v2). Without a motion config it is the plain image UNet
 * (UNet2DConditionModel) with the same keys.
 */
public final class UNet3DConditionModel extends Module {
    final UNet2DConditionConfig config;
    final MotionModuleConfig motion;
    final Conv2d convIn;
    final Timesteps timeProj;
    final TimestepEmbedding timeEmbedding;
    final ModuleList<CrossAttnDownBlock3D> downBlocks;
    final UNetMidBlock3DCrossAttn midBlock;
    final ModuleList<CrossAttnUpBlock3D> upBlocks;
    final GroupNorm convNormOut;
    final Conv2d convOut;

    public UNet3DConditionModel(UNet2DConditionConfig config, MotionModuleConfig motion) {
        this.config = config;
        this.motion = motion;
        int n = config.numBlocks();
        int c0 = config.channels(0);
        int temb = config.timeEmbedDim();
        int groups = config.normNumGroups();
        double eps = config.normEps();
        int ctxDim = config.crossAttentionDim();
        int tLayers = config.transformerLayersPerBlock();
        boolean linear = config.useLinearProjection();

        // 1. input and time
        convIn = child("conv_in", new Conv2d(config.inChannels(), c0, 3, 1, 1));
        timeProj = new Timesteps(c0, config.flipSinToCos(), config.freqShift());
        timeEmbedding = child("time_embedding", new TimestepEmbedding(c0, temb));

        // 2. down
        downBlocks = child("down_blocks", new ModuleList<>());
        int out = c0;
        for (int i = 0; i < n; i++) {
            int in = out;
            out = config.channels(i);
            downBlocks.add(new CrossAttnDownBlock3D(
                    in,
                    out,
                    config.layersPerBlock(),
                    temb,
                    groups,
                    eps,
                    config.downHasAttention(i),
                    config.heads(i),
                    ctxDim,
                    tLayers,
                    linear,
                    motion != null && motion.atLevel(i) ? motion : null,
                    i < n - 1));
        }

        // 3. mid
        int top = config.channels(n - 1);
        midBlock = child(
                "mid_block",
                new UNetMidBlock3DCrossAttn(
                        top,
                        temb,
                        groups,
                        eps,
                        config.heads(n - 1),
                        ctxDim,
                        tLayers,
                        linear,
                        motion != null && motion.midBlock() ? motion : null));

        // 4. up (channels mirrored)
        upBlocks = child("up_blocks", new ModuleList<>());
        int prevOut = top;
        for (int i = 0; i < n; i++) {
            int level = n - 1 - i;
            int upOut = config.channels(level);
            int upIn = config.channels(Math.max(level - 1, 0));
            upBlocks.add(new CrossAttnUpBlock3D(
                    upIn,
                    prevOut,
                    upOut,
                    config.layersPerBlock() + 1,
                    temb,
                    groups,
                    eps,
                    config.upHasAttention(i),
                    config.heads(level),
                    ctxDim,
                    tLayers,
                    linear,
                    motion != null && motion.atLevel(level) ? motion : null,
                    i < n - 1));
            prevOut = upOut;
        }

        // 5. output
        convNormOut = child("conv_norm_out", new GroupNorm(groups, c0, eps));
        convOut = child("conv_out", new Conv2d(c0, config.outChannels(), 3, 1, 1));
    }

    public UNet2DConditionConfig config() {
        return config;
    }

    /** The motion modules' config, or null for the image UNet. */
    public MotionModuleConfig motion() {
        return motion;
    }

    /** Largest frame count one call supports (the positional table), or MAX_VALUE without motion. */
    public int maxFrames() {
        return motion == null ? Integer.MAX_VALUE : motion.maxFrames();
    }

    /** Every motion module, depth first (down, mid, up): for instrumentation and inspection. */
    public List<VanillaTemporalModule> motionModules() {
        List<VanillaTemporalModule> out = new ArrayList<>();
        collect(this, out);
        return out;
    }

    private static void collect(Module m, List<VanillaTemporalModule> out) {
        if (m instanceof VanillaTemporalModule v) {
            out.add(v);
            return;
        }
        for (Module c : m.children().values()) {
            collect(c, out);
        }
    }

    /**
     * sample (B, Cin, F, H, W), timesteps (B) or a scalar, text (B, S, Cctx) or per frame
     * (B, F, S, Cctx) (prompt travel) -> (B, Cout, F, H, W).
     * H and W must be divisible by 2^(blocks-1) or are handled like diffusers' upsample_size.
     */
    public NDArray forward(NDArray sample, NDArray timesteps, NDArray text, double motionScale) {
        return Scoped.forward(() -> body(sample, timesteps, text, motionScale));
    }

    private NDArray body(NDArray sample, NDArray timesteps, NDArray text, double motionScale) {
        Shape s = sample.getShape();
        long b = s.get(0);
        int f = (int) s.get(2);
        if (f > maxFrames()) {
            throw new IllegalArgumentException("this motion module (" + motion.version() + ") supports at most "
                    + maxFrames() + " frames per UNet call, got " + f
                    + ": request fewer frames or use context windows");
        }
        // 1. time: (B) -> ((B F), T)
        NDArray t = timesteps.getShape().dimension() == 0 ? timesteps.reshape(1).repeat(0, b) : timesteps;
        NDArray temb = timeEmbedding.forward(timeProj.forward(t.toType(DataType.FLOAT32, false)));
        temb = VideoLayout.perFrame(temb, f);
        NDArray context; // ((B F), S, Cctx)
        if (text.getShape().dimension() == 4) {
            Shape ts = text.getShape();
            if (ts.get(0) != b || ts.get(1) != f) {
                throw new IllegalArgumentException("per-frame text " + ts + " must be (B = " + b + ", F = " + f
                        + ", S, C) to match the sample " + s);
            }
            context = text.reshape(b * f, ts.get(2), ts.get(3));
        } else {
            context = VideoLayout.perFrame(text, f);
        }
        boolean perFrame = motion == null || motion.inflatedGroupNorm();
        BlockContext ctx = new BlockContext(temb, context, f, perFrame, motionScale);

        // 2. input: ((B F), Cin, H, W)
        NDArray x = convIn.forward(VideoLayout.fold(sample));
        List<NDArray> skips = new ArrayList<>();
        skips.add(x);

        // 3. down, mid, up
        for (CrossAttnDownBlock3D down : downBlocks) {
            x = down.forward(x, ctx, skips);
        }
        x = midBlock.forward(x, ctx);
        for (CrossAttnUpBlock3D up : upBlocks) {
            x = up.forward(x, ctx, skips);
        }

        // 4. output
        x = Ops.silu(VideoLayout.groupNorm(convNormOut, x, f, perFrame));
        x = convOut.forward(x);
        return VideoLayout.unfold(x, f);
    }

    /** Forward with the reference motion scale 1. */
    public NDArray forward(NDArray sample, NDArray timesteps, NDArray text) {
        return forward(sample, timesteps, text, 1.0);
    }
}
