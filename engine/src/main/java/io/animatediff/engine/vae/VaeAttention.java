package io.animatediff.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.GroupNorm;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.nn.Scoped;
import io.animatediff.engine.ops.Ops;

/**
 * Ports diffusers.models.attention_processor.Attention as UNetMidBlock2D builds it for the VAE
 * (AttnProcessor2_0 with group_norm, bias=True, residual_connection=True, rescale_output_factor):
 * GroupNorm, then self-attention over the H*W positions, to_out.0, plus the input, divided by the
 * rescale factor. The VAE uses a single head of width C.
 */
public final class VaeAttention extends Module {
    final GroupNorm groupNorm;
    final Linear toQ;
    final Linear toK;
    final Linear toV;
    final Linear toOut;
    final int heads;
    final double rescaleOutputFactor;

    public VaeAttention(int channels, int heads, int groups, double eps, double rescaleOutputFactor) {
        if (heads < 1 || channels % heads != 0) {
            throw new IllegalArgumentException(
                    "VaeAttention: " + channels + " channels cannot be split into " + heads + " heads");
        }
        this.heads = heads;
        this.rescaleOutputFactor = rescaleOutputFactor;
        groupNorm = child("group_norm", new GroupNorm(groups, channels, eps));
        toQ = child("to_q", new Linear(channels, channels, true));
        toK = child("to_k", new Linear(channels, channels, true));
        toV = child("to_v", new Linear(channels, channels, true));
        ModuleList<Linear> out = child("to_out", new ModuleList<>());
        toOut = out.add(new Linear(channels, channels, true));
    }

    /** x (N, C, H, W) -> (N, C, H, W). */
    public NDArray forward(NDArray x) {
        return Scoped.forward(() -> body(x));
    }

    private NDArray body(NDArray x) {
        Shape s = x.getShape();
        long n = s.get(0);
        long c = s.get(1);
        long tokens = s.get(2) * s.get(3);
        // 1. norm, positions as tokens: (N, C, H, W) -> (N, S, C)
        NDArray h = groupNorm.forward(x).reshape(n, c, tokens).transpose(0, 2, 1);
        // 2. attention over S = H*W
        NDArray q = splitHeads(toQ.forward(h)); // (N, heads, S, D)
        NDArray k = splitHeads(toK.forward(h)); // (N, heads, S, D)
        NDArray v = splitHeads(toV.forward(h)); // (N, heads, S, D)
        NDArray o = Ops.attention(q, k, v); // (N, heads, S, D)
        o = o.transpose(0, 2, 1, 3).reshape(n, tokens, c); // (N, S, C)
        o = toOut.forward(o); // (N, S, C)
        // 3. back to an image, residual, rescale
        o = o.transpose(0, 2, 1).reshape(s).add(x); // (N, C, H, W)
        return rescaleOutputFactor == 1.0 ? o : o.div(rescaleOutputFactor);
    }

    /** (N, S, C) -> (N, heads, S, D). */
    private NDArray splitHeads(NDArray t) {
        Shape s = t.getShape();
        return t.reshape(s.get(0), s.get(1), heads, s.get(2) / heads).transpose(0, 2, 1, 3);
    }
}
