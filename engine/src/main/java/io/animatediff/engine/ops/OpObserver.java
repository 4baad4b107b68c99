package io.animatediff.engine.ops;

/**
 * Told about every op {@link Ops} runs while installed with {@link Ops#setObserver}: its kind, its
 * analytic FLOPs (multiply-adds counted as 2; norms and activations count 0) and its wall time. With
 * no observer installed {@link Ops} costs one volatile read per op. Work done outside {@link Ops}
 * (adds, reshapes, transposes, concatenations) is not reported.
 */
@FunctionalInterface
public interface OpObserver {
    /** The op families {@link Ops} reports. */
    enum Kind {
        /** conv2d: 2 N Cout Hout Wout Cin k k. */
        CONV,
        /** linear: 2 rows Cin Cout. */
        LINEAR,
        /** attention: 2 BN Sq Sk D (q k^T) + 2 BN Sq Sk Dv (p v). */
        ATTENTION,
        /** group norm and layer norm (FLOPs not counted). */
        NORM,
        /** silu and gelu (FLOPs not counted). */
        ACTIVATION
    }

    /** One op finished: its kind, analytic FLOPs and wall time in nanoseconds. */
    void record(Kind kind, long flops, long nanos);
}
