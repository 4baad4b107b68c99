package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Conv2d;
import io.animatediff.engine.nn.GroupNorm;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.nn.Scoped;

/**
 * Ports diffusers.models.transformers.transformer_2d.Transformer2DModel (continuous input; AnimateDiff's
 * Transformer3DModel applies it per frame): GroupNorm, proj_in (1x1 conv, or Linear with
 * use_linear_projection), transformer blocks over H*W tokens, proj_out, residual.
 */
public final class Transformer2DModel extends Module {
    final GroupNorm norm;
    final Module projIn;
    final ModuleList<BasicTransformerBlock> blocks;
    final Module projOut;
    final boolean linearProjection;

    public Transformer2DModel(
            int channels, int heads, int contextDim, int layers, int groups, boolean linearProjection) {
        int headDim = channels / heads;
        int inner = heads * headDim;
        this.linearProjection = linearProjection;
        norm = child("norm", new GroupNorm(groups, channels, 1e-6));
        projIn = child(
                "proj_in", linearProjection ? new Linear(channels, inner, true) : new Conv2d(channels, inner, 1, 1, 0));
        blocks = child("transformer_blocks", new ModuleList<>());
        for (int i = 0; i < layers; i++) {
            blocks.add(new BasicTransformerBlock(inner, heads, headDim, contextDim));
        }
        projOut = child(
                "proj_out",
                linearProjection ? new Linear(inner, channels, true) : new Conv2d(inner, channels, 1, 1, 0));
    }

    /** x ((B F), C, H, W), context ((B F), S, Cctx) -> ((B F), C, H, W). */
    public NDArray forward(NDArray x, NDArray context) {
        return Scoped.forward(() -> body(x, context));
    }

    private NDArray body(NDArray x, NDArray context) {
        Shape s = x.getShape();
        long n = s.get(0);
        long h = s.get(2);
        long w = s.get(3);
        // 1. input
        NDArray t = norm.forward(x);
        if (!linearProjection) {
            t = ((Conv2d) projIn).forward(t);
        }
        long inner = t.getShape().get(1);
        t = t.transpose(0, 2, 3, 1).reshape(n, h * w, inner); // ((B F), H*W, C)
        if (linearProjection) {
            t = ((Linear) projIn).forward(t);
        }
        // 2. blocks
        for (BasicTransformerBlock block : blocks) {
            t = block.forward(t, context);
        }
        // 3. output
        if (linearProjection) {
            t = ((Linear) projOut).forward(t);
        }
        t = t.reshape(n, h, w, inner).transpose(0, 3, 1, 2); // ((B F), C, H, W)
        if (!linearProjection) {
            t = ((Conv2d) projOut).forward(t);
        }
        return t.add(x);
    }
}
