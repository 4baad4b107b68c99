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

    /**
     * As {@link #record(Kind, long, long)}, for conv, linear and attention also with the analytic
     * FLOPs autograd's backward pass will spend on the op, from which of its inputs require grad
     * (libtorch's flag, intermediates included: {@link Ops#requiresGrad}; none with grad mode off):
     * conv and linear the forward's FLOPs once for the input's gradient (a transposed conv, a matmul
     * with W) and once for the weight's; attention, with forward S = q k^T and O = P v, dP = dO v^T
     * whenever anything needs a gradient, then dv = P^T dO, dq = dS k, dk = dS^T q for those of q, k,
     * v that require grad. Norms, activations and elementwise ops are not counted, as their forwards
     * are not. The default ignores it.
     */
    default void record(Kind kind, long flops, long nanos, long backwardFlops) {
        record(kind, flops, nanos);
    }
}
