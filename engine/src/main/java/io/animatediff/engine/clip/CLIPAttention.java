package io.animatediff.engine.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Module;

/**
 * Ports transformers.models.clip.modeling_clip.CLIPAttention: q/k/v/out projections with bias, N
 * heads of D = C / N, scores scaled by D^-0.5, the causal mask added before the softmax.
 */
public final class CLIPAttention extends Module {
    final Linear qProj;
    final Linear kProj;
    final Linear vProj;
    final Linear outProj;
    final int heads;
    final double scale;

    public CLIPAttention(int dim, int heads) {
        if (dim % heads != 0) {
            throw new IllegalArgumentException(
                    "CLIPAttention: width " + dim + " is not divisible by " + heads + " heads");
        }
        this.heads = heads;
        this.scale = 1.0 / Math.sqrt(dim / heads);
        kProj = child("k_proj", new Linear(dim, dim, true));
        vProj = child("v_proj", new Linear(dim, dim, true));
        qProj = child("q_proj", new Linear(dim, dim, true));
        outProj = child("out_proj", new Linear(dim, dim, true));
    }

    /** x (B, S, C), mask (S, S) additive -> (B, S, C). */
    public NDArray forward(NDArray x, NDArray mask) {
        Shape s = x.getShape();
        NDArray q = splitHeads(qProj.forward(x)); // (B, N, S, D)
        NDArray k = splitHeads(kProj.forward(x)); // (B, N, S, D)
        NDArray v = splitHeads(vProj.forward(x)); // (B, N, S, D)
        NDArray o = CausalAttention.attention(q, k, v, mask, scale); // (B, N, S, D)
        o = o.transpose(0, 2, 1, 3).reshape(s); // (B, S, C)
        return outProj.forward(o);
    }

    /** (B, S, N*D) -> (B, N, S, D). */
    private NDArray splitHeads(NDArray t) {
        Shape s = t.getShape();
        return t.reshape(s.get(0), s.get(1), heads, s.get(2) / heads).transpose(0, 2, 1, 3);
    }
}
