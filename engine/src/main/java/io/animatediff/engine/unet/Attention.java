package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.nn.Scoped;
import io.animatediff.engine.ops.Ops;

/**
 * Ports diffusers.models.attention_processor.Attention (AttnProcessor2_0): to_q/to_k/to_v without
 * bias, to_out.0 with bias, scaled dot-product attention over N heads of D = inner / N.
 */
public class Attention extends Module {
    final Linear toQ;
    final Linear toK;
    final Linear toV;
    final Linear toOut;
    final int heads;

    /** contextDim 0 means self-attention. */
    public Attention(int queryDim, int contextDim, int heads, int headDim) {
        int inner = heads * headDim;
        int kv = contextDim > 0 ? contextDim : queryDim;
        this.heads = heads;
        toQ = child("to_q", new Linear(queryDim, inner, false));
        toK = child("to_k", new Linear(kv, inner, false));
        toV = child("to_v", new Linear(kv, inner, false));
        ModuleList<Linear> out = child("to_out", new ModuleList<>());
        toOut = out.add(new Linear(inner, queryDim, true));
    }

    /** x (B, S, C), context (B, Sk, Cctx) or null for self-attention -> (B, S, C). */
    public NDArray forward(NDArray x, NDArray context) {
        return forward(x, context, 1.0);
    }

    /**
     * As {@link #forward(NDArray, NDArray)} with the keys multiplied by {@code keyScale}, so the
     * attention logits q.k / sqrt(D) are multiplied by it (1 = the reference; ComfyUI-AnimateDiff-
     * Evolved's motion scale, CrossAttentionMM: {@code k *= self.scale}).
     */
    public NDArray forward(NDArray x, NDArray context, double keyScale) {
        return Scoped.forward(() -> body(x, context, keyScale));
    }

    private NDArray body(NDArray x, NDArray context, double keyScale) {
        NDArray kvInput = context == null ? x : context;
        NDArray q = splitHeads(toQ.forward(x)); // (B, N, S, D)
        NDArray k = toK.forward(kvInput);
        k = splitHeads(keyScale == 1.0 ? k : k.mul(keyScale)); // (B, N, Sk, D)
        NDArray v = splitHeads(toV.forward(kvInput)); // (B, N, Sk, D)
        NDArray o = Ops.attention(q, k, v); // (B, N, S, D)
        Shape s = o.getShape();
        o = o.transpose(0, 2, 1, 3).reshape(s.get(0), s.get(2), s.get(1) * s.get(3)); // (B, S, N*D)
        return toOut.forward(o);
    }

    /** (B, S, N*D) -> (B, N, S, D). */
    private NDArray splitHeads(NDArray t) {
        Shape s = t.getShape();
        return t.reshape(s.get(0), s.get(1), heads, s.get(2) / heads).transpose(0, 2, 1, 3);
    }
}
