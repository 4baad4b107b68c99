package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.ops.Ops;

/** Ports torch.nn.LayerNorm over the last axis (affine). */
public final class LayerNorm extends Module {
    public final Param weight;
    public final Param bias;
    public final double eps;

    public LayerNorm(long dim, double eps) {
        this.eps = eps;
        weight = param("weight", Param.Init.ONES, 0, dim);
        bias = param("bias", Param.Init.ZEROS, 0, dim);
    }

    /** x (..., C) -> same shape. */
    public NDArray forward(NDArray x) {
        return Ops.layerNorm(x, weight.get(), bias.get(), eps);
    }
}
