package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.ops.Ops;

/**
 * Ports torch.nn.Linear: weight (Cout, Cin), optional bias (Cout). An optional LoRA adapter
 * (diffusers' LoRACompatibleLinear) adds up(down(x)) to the output; it is not a child, so the
 * layer's keys and parameter count stay those of the checkpoint, and without one the layer is
 * exactly torch.nn.Linear.
 */
public final class Linear extends Module {
    public final Param weight;
    public final Param bias;
    public final long in;
    public final long out;
    private LoRALinearLayer lora;

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

    /** The attached LoRA adapter, or null. */
    public LoRALinearLayer lora() {
        return lora;
    }

    /**
     * Attaches a LoRA adapter (Cin -> Cout) whose output is added to this layer's, or detaches it
     * with null. The adapter's weights stay owned by the caller.
     */
    public void setLora(LoRALinearLayer adapter) {
        if (adapter != null
                && (adapter.downWeight().shape().get(1) != in
                        || adapter.upWeight().shape().get(0) != out)) {
            throw new IllegalArgumentException(
                    "LoRA adapter " + adapter.downWeight().shape() + " / "
                            + adapter.upWeight().shape() + " does not fit a " + in + " -> " + out + " Linear");
        }
        this.lora = adapter;
    }

    /** x (..., Cin) -> (..., Cout). */
    public NDArray forward(NDArray x) {
        NDArray y = Ops.linear(x, weight.get(), bias == null ? null : bias.get());
        return lora == null ? y : y.add(lora.forward(x));
    }
}
