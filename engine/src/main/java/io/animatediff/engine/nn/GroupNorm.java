package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.ops.Ops;

/** Ports torch.nn.GroupNorm (affine): statistics over each group of channels and all trailing axes. */
public final class GroupNorm extends Module {
    public final Param weight;
    public final Param bias;
    public final int groups;
    public final double eps;

    public GroupNorm(int groups, long channels, double eps) {
        if (channels % groups != 0) {
            throw new IllegalArgumentException(
                    "GroupNorm: " + channels + " channels are not divisible into " + groups + " groups");
        }
        this.groups = groups;
        this.eps = eps;
        weight = param("weight", Param.Init.ONES, 0, channels);
        bias = param("bias", Param.Init.ZEROS, 0, channels);
    }

    /** x (N, C, *) -> same shape. */
    public NDArray forward(NDArray x) {
        return Ops.groupNorm(x, groups, weight.get(), bias.get(), eps);
    }
}
