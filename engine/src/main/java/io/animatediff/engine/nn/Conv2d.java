package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.ops.Ops;

/** Ports torch.nn.Conv2d (square kernel, dilation 1, groups 1): weight (Cout, Cin, k, k), bias (Cout). */
public final class Conv2d extends Module {
    public final Param weight;
    public final Param bias;
    public final int stride;
    public final int padding;

    public Conv2d(long in, long out, int kernel, int stride, int padding) {
        this.stride = stride;
        this.padding = padding;
        long fanIn = in * kernel * kernel;
        weight = param("weight", Param.Init.FAN_IN_UNIFORM, fanIn, out, in, kernel, kernel);
        bias = param("bias", Param.Init.FAN_IN_UNIFORM, fanIn, out);
    }

    /** x (N, Cin, H, W) -> (N, Cout, H', W'). */
    public NDArray forward(NDArray x) {
        return Ops.conv2d(x, weight.get(), bias.get(), stride, padding);
    }
}
