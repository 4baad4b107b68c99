package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.GroupNorm;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.nn.Scoped;
import java.util.List;

/**
 * Ports animatediff.models.motion_module.TemporalTransformer3DModel: GroupNorm (per frame as the
 * official code, or across frames as diffusers), proj_in, temporal transformer blocks over the frame
 * axis of every spatial position, proj_out (zero at initialisation), residual.
 */
public final class TemporalTransformer3DModel extends Module {
    final GroupNorm norm;
    final Linear projIn;
    final ModuleList<TemporalTransformerBlock> blocks;
    final Linear projOut;

    public TemporalTransformer3DModel(
            int channels, int heads, int layers, int groups, int maxFrames, List<String> types, int contextDim) {
        norm = child("norm", new GroupNorm(groups, channels, 1e-6));
        projIn = child("proj_in", new Linear(channels, channels, true));
        blocks = child("transformer_blocks", new ModuleList<>());
        for (int i = 0; i < layers; i++) {
            blocks.add(new TemporalTransformerBlock(channels, heads, types, contextDim, maxFrames));
        }
        projOut = child("proj_out", Linear.zeroed(channels, channels));
    }

    /** x ((B F), C, H, W), text (B, S, Cctx) or null without Temporal_Cross -> ((B F), C, H, W). */
    public NDArray forward(NDArray x, NDArray text, int frames, boolean perFrameNorm, double motionScale) {
        return Scoped.forward(() -> body(x, text, frames, perFrameNorm, motionScale));
    }

    private NDArray body(NDArray x, NDArray text, int frames, boolean perFrameNorm, double motionScale) {
        Shape s = x.getShape();
        long bf = s.get(0);
        long c = s.get(1);
        long h = s.get(2);
        long w = s.get(3);
        long b = bf / frames;
        // 1. input: norm, tokens per spatial position along the frame axis
        NDArray t = VideoLayout.groupNorm(norm, x, frames, perFrameNorm);
        t = t.transpose(0, 2, 3, 1).reshape(b, frames, h * w, c); // (B, F, H*W, C)
        t = t.transpose(0, 2, 1, 3).reshape(b * h * w, frames, c); // ((B H W), F, C)
        t = projIn.forward(t);
        // 2. temporal blocks
        for (TemporalTransformerBlock block : blocks) {
            t = block.forward(t, text, motionScale);
        }
        // 3. output
        t = projOut.forward(t);
        t = t.reshape(b, h * w, frames, c).transpose(0, 2, 1, 3); // (B, F, H*W, C)
        t = t.reshape(bf, h, w, c).transpose(0, 3, 1, 2); // ((B F), C, H, W)
        return t.add(x);
    }
}
