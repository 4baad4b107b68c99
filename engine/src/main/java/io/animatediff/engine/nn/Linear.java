package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.ops.Ops;

/** Ports torch.nn.Linear: weight (Cout, Cin), optional bias (Cout). */
public final class Linear extends Module {
    public final Param weight;
    public final Param bias;
    public final long in;
    public final long out;

    public Linear(long in, long out, boolean withBias) {
        this(in, out, withBias, Param.Init.FAN_IN_UNIFORM);
    }

    private Linear(long in, long out, boolean withBias, Param.Init init) {
        this.in = in;
        this.out = out;
        weight = param("weight", init, in, out, in);
        bias = withBias ? param("bias", init, in, out) : null;
    }

    /** A Linear whose fresh weights are zero (AnimateDiff's zero_module on proj_out). */
    public static Linear zeroed(long in, long out) {
        return new Linear(in, out, true, Param.Init.ZEROS);
    }

    /** x (..., Cin) -> (..., Cout). */
    public NDArray forward(NDArray x) {
        return Ops.linear(x, weight.get(), bias == null ? null : bias.get());
    }
}
