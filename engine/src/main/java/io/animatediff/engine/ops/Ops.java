package io.animatediff.engine.ops;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The tensor operations the engine's blocks are written in. Every block calls these, never DJL's
 * layer classes directly, so a faster kernel (libtorch's fused ops) replaces the composed path in
 * one place.
 *
 * <p>Results belong to the input's NDManager (for attention: q's); nothing is ever created on a
 * weight's manager, so callers can scope memory per step with a child manager.
 *
 * <p>Two modes, chosen by the system property {@value #MODE_PROPERTY} ({@code fused}, the default,
 * or {@code composed}) or by {@link #setMode}: FUSED runs libtorch's scaled_dot_product_attention,
 * group_norm and silu through a TorchScript module ({@link FusedKernels}); COMPOSED builds them from
 * DJL ops ({@link ComposedOps}), with attention computed in query chunks whose score buffers fit
 * the budget {@value #BUDGET_PROPERTY} (bytes, default {@value #DEFAULT_ATTENTION_BUDGET}). Where
 * the fused kernels cannot load, FUSED falls back to COMPOSED after one warning.
 *
 * <p>{@link #linear} and {@link #conv2d} run in bfloat16 (float32 in and out) where {@link
 * Bfloat16} is switched on ({@code -Danimatediff.bf16=true}; off by default) and applies; the
 * cached bfloat16 weight copies then live on the weights' managers.
 */
public final class Ops {
    /** System property selecting the mode: {@code fused} or {@code composed}. */
    public static final String MODE_PROPERTY = "animatediff.ops";
    /** System property: bytes the composed attention may spend on scores and probabilities. */
    public static final String BUDGET_PROPERTY = "animatediff.attention.budget";
    /**
     * Default composed-attention budget: 64 MiB. Measured here at (B*N=8, S=4096, D=40): budgets of
     * 4 / 16 / 32 / 64 / 256 MiB took 5.2 / 1.75 / 1.56 / 1.23 / 1.16 s (best of 3, loaded machine);
     * on a quiet machine 64 MiB took 0.53 s against 0.48 s for one unchunked 1 GiB pass. So 64 MiB
     * costs ~10% at a sixteenth of the memory, and chunks get slow below 16 MiB.
     */
    public static final long DEFAULT_ATTENTION_BUDGET = 64L << 20;

    /** How {@link Ops} computes attention, group norm and silu. */
    public enum Mode {
        /** libtorch's fused kernels through TorchScript (composed where they cannot load). */
        FUSED,
        /** DJL ops only; attention in budget-bounded query chunks. */
        COMPOSED
    }

    private static volatile Mode modeOverride;
    private static volatile Long budgetOverride;
    private static volatile OpObserver observer;

    private Ops() {}

    /** y = x W^T + b; x (..., Cin), weight (Cout, Cin), bias (Cout) or null. */
    public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        OpObserver o = observer;
        long t = o == null ? 0 : System.nanoTime();
        NDArray y;
        if (Bfloat16.applies(x, weight, bias)) {
            y = Bfloat16.linear(x, Bfloat16.cachedCopy(weight), bias);
        } else {
            y = bias == null
                    ? Linear.linear(x, weight).singletonOrThrow()
                    : Linear.linear(x, weight, bias).singletonOrThrow();
        }
        if (o != null) {
            Shape w = weight.getShape(); // (Cout, Cin)
            long rows = x.getShape().size() / w.get(1);
            long flops = 2 * rows * w.get(1) * w.get(0);
            boolean grad = gradMode();
            long backward = (needsGradient(grad, x) ? flops : 0) + (needsGradient(grad, weight) ? flops : 0);
            o.record(OpObserver.Kind.LINEAR, flops, System.nanoTime() - t, backward);
        }
        return y;
    }

    /** 2-D convolution; x (N, Cin, H, W), weight (Cout, Cin, k, k), bias (Cout) or null. */
    public static NDArray conv2d(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        OpObserver o = observer;
        long t = o == null ? 0 : System.nanoTime();
        NDArray y = Bfloat16.applies(x, weight, bias)
                ? Bfloat16.conv2d(x, Bfloat16.cachedCopy(weight), bias, stride, padding)
                : Conv2d.conv2d(
                                x,
                                weight,
                                bias,
                                new Shape(stride, stride),
                                new Shape(padding, padding),
                                new Shape(1, 1),
                                1)
                        .singletonOrThrow();
        if (o != null) {
            Shape w = weight.getShape(); // (Cout, Cin, k, k)
            Shape out = y.getShape(); // (N, Cout, Hout, Wout)
            long flops = 2 * out.size() * w.get(1) * w.get(2) * w.get(3);
            boolean grad = gradMode();
            long backward = (needsGradient(grad, x) ? flops : 0) + (needsGradient(grad, weight) ? flops : 0);
            o.record(OpObserver.Kind.CONV, flops, System.nanoTime() - t, backward);
        }
        return y;
    }

    /**
     * GroupNorm over x (N, C, *): statistics per sample and group of C/groups channels across all
     * trailing axes (biased variance, like torch.group_norm); affine per channel, weight and bias
     * (C).
     */
    public static NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, double eps) {
        checkGroupNorm(x, groups, weight, bias);
        OpObserver o = observer;
        long t = o == null ? 0 : System.nanoTime();
        Optional<FusedKernels> fused = fused(x, weight, bias);
        NDArray y = fused.isPresent()
                ? fused.get().groupNorm(x, groups, weight, bias, eps)
                : ComposedOps.groupNorm(x, groups, weight, bias, eps);
        return observed(o, OpObserver.Kind.NORM, 0, t, y);
    }

    /** LayerNorm over the last axis; x (..., C), weight and bias (C). */
    public static NDArray layerNorm(NDArray x, NDArray weight, NDArray bias, double eps) {
        OpObserver o = observer;
        long t = o == null ? 0 : System.nanoTime();
        Shape last = new Shape(x.getShape().get(x.getShape().dimension() - 1));
        NDArray y = LayerNorm.layerNorm(x, last, weight, bias, (float) eps).singletonOrThrow();
        return observed(o, OpObserver.Kind.NORM, 0, t, y);
    }

    /**
     * Scaled dot-product attention softmax(q k^T / sqrt(D)) v; q (..., Sq, D), k and v (..., Sk, D)
     * -> (..., Sq, D).
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v) {
        checkAttention(q, k, v);
        OpObserver o = observer;
        long t = o == null ? 0 : System.nanoTime();
        Optional<FusedKernels> fused = fused(q, k, v);
        NDArray y =
                fused.isPresent() ? fused.get().attention(q, k, v) : ComposedOps.attention(q, k, v, attentionBudget());
        if (o != null) {
            Shape qs = q.getShape(); // (..., Sq, D)
            int r = qs.dimension();
            long sk = k.getShape().get(r - 2);
            long rowsTimesSk = qs.size() / qs.get(r - 1) * sk; // BN Sq Sk
            long qk = 2 * rowsTimesSk * qs.get(r - 1); // S = q k^T
            long pv = 2 * rowsTimesSk * v.getShape().get(r - 1); // O = P v
            boolean grad = gradMode();
            boolean gq = needsGradient(grad, q);
            boolean gk = needsGradient(grad, k);
            boolean gv = needsGradient(grad, v);
            long backward = !(gq || gk || gv)
                    ? 0
                    : pv + (gv ? pv : 0) + (gq ? qk : 0) + (gk ? qk : 0); // dP, then dv, dq, dk as needed
            o.record(OpObserver.Kind.ATTENTION, qk + pv, System.nanoTime() - t, backward);
        }
        return y;
    }

    /** SiLU (swish): x * sigmoid(x). */
    public static NDArray silu(NDArray x) {
        OpObserver o = observer;
        long t = o == null ? 0 : System.nanoTime();
        Optional<FusedKernels> fused = fused(x);
        NDArray y = fused.isPresent() ? fused.get().silu(x) : ComposedOps.silu(x);
        return observed(o, OpObserver.Kind.ACTIVATION, 0, t, y);
    }

    /** GELU, exact (erf) form as torch.nn.functional.gelu's default. */
    public static NDArray gelu(NDArray x) {
        OpObserver o = observer;
        long t = o == null ? 0 : System.nanoTime();
        return observed(o, OpObserver.Kind.ACTIVATION, 0, t, Activation.gelu(x));
    }

    /**
     * Installs an observer told about every op of every thread (kind, analytic FLOPs, wall time);
     * null removes it. For counting and profiling passes only: ops stay unchanged, and with none
     * installed the cost is one volatile read per op.
     */
    public static void setObserver(OpObserver o) {
        observer = o;
    }

    /**
     * Whether autograd needs x's gradient: libtorch's {@code requires_grad}, true for a leaf that
     * requires grad and for every result recorded from one (read through the TorchScript module of
     * {@link FusedKernels}). Not DJL's {@link NDArray#hasGradient()}: that is true for leaves only
     * (its native check is {@code requires_grad() && (is_leaf() || retains_grad())}), so it misses
     * every intermediate result, e.g. all activations downstream of a trainable layer.
     *
     * @throws IllegalStateException if x is not a PyTorch-engine array or the TorchScript module
     *     cannot load (then an intermediate's flag cannot be read)
     */
    public static boolean requiresGrad(NDArray x) {
        if (!FusedKernels.accepts(x)) {
            throw new IllegalStateException("Ops.requiresGrad: " + x.getClass().getName()
                    + " is not a PyTorch-engine array; only those carry libtorch's requires_grad");
        }
        return FusedKernels.get()
                .orElseThrow(() -> new IllegalStateException("Ops.requiresGrad: the libtorch TorchScript"
                        + " module did not load (see the earlier warning), so whether an intermediate array"
                        + " requires grad cannot be read; the backward FLOP count needs it"))
                .requiresGrad(x);
    }

    /**
     * d loss / d input for every input ({@code torch.autograd.grad}, zeros for an input the loss does
     * not depend on), freeing the graph and leaving every {@code .grad} untouched: what lets several
     * threads run backward passes through shared weights and sum the gradients in an order of their
     * choosing. Needs the libtorch TorchScript module (DJL has no such op).
     */
    public static NDArray[] gradients(NDArray loss, List<NDArray> inputs) {
        if (!FusedKernels.accepts(loss) || !FusedKernels.accepts(inputs.toArray(NDArray[]::new))) {
            throw new IllegalStateException("Ops.gradients: only PyTorch-engine arrays carry libtorch's autograd");
        }
        return FusedKernels.get()
                .orElseThrow(() -> new IllegalStateException("Ops.gradients: the libtorch TorchScript module did"
                        + " not load (see the earlier warning); train with one micro-batch thread"))
                .gradients(loss, inputs);
    }

    /** Whether autograd records ops on this thread (libtorch's grad mode is per thread). */
    private static boolean gradMode() {
        return JniUtils.isGradMode();
    }

    /** Whether the backward will compute x's gradient: grad mode on and x requires grad. */
    private static boolean needsGradient(boolean gradMode, NDArray x) {
        return gradMode && requiresGrad(x);
    }

    private static NDArray observed(OpObserver o, OpObserver.Kind kind, long flops, long start, NDArray y) {
        if (o != null) {
            o.record(kind, flops, System.nanoTime() - start);
        }
        return y;
    }

    /** The mode in force: {@link #setMode}'s, else {@value #MODE_PROPERTY}'s, else FUSED. */
    public static Mode mode() {
        Mode set = modeOverride;
        if (set != null) {
            return set;
        }
        String property = System.getProperty(MODE_PROPERTY, "fused").trim().toLowerCase(Locale.ROOT);
        return switch (property) {
            case "fused" -> Mode.FUSED;
            case "composed" -> Mode.COMPOSED;
            default ->
                throw new IllegalArgumentException(
                        "-D" + MODE_PROPERTY + "=" + property + " is not a mode: use fused or composed");
        };
    }

    /** Forces a mode for the whole process; null returns to the system property. */
    public static void setMode(Mode mode) {
        modeOverride = mode;
    }

    /** Whether the fused kernels are in use: mode FUSED and they loaded on this platform. */
    public static boolean fusedAvailable() {
        return mode() == Mode.FUSED && FusedKernels.get().isPresent();
    }

    /** Bytes composed attention may spend on scores: {@link #setAttentionBudget}'s, else the property's. */
    public static long attentionBudget() {
        Long set = budgetOverride;
        if (set != null) {
            return set;
        }
        String property = System.getProperty(BUDGET_PROPERTY);
        if (property == null) {
            return DEFAULT_ATTENTION_BUDGET;
        }
        try {
            long bytes = Long.parseLong(property.trim());
            if (bytes > 0) {
                return bytes;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("-D" + BUDGET_PROPERTY + "=" + property
                + " is not a byte count: give a positive integer, e.g. 536870912");
    }

    /** Sets the composed-attention budget in bytes (> 0); null returns to the system property. */
    public static void setAttentionBudget(Long bytes) {
        if (bytes != null && bytes <= 0) {
            throw new IllegalArgumentException("attention budget must be positive bytes, got " + bytes);
        }
        budgetOverride = bytes;
    }

    private static Optional<FusedKernels> fused(NDArray... arrays) {
        if (mode() != Mode.FUSED || !FusedKernels.accepts(arrays)) {
            return Optional.empty();
        }
        return FusedKernels.get();
    }

    private static void checkGroupNorm(NDArray x, int groups, NDArray weight, NDArray bias) {
        Shape shape = x.getShape();
        if (shape.dimension() < 2 || groups <= 0 || shape.get(1) % groups != 0) {
            throw new IllegalArgumentException(
                    "groupNorm: input " + shape + " must be (N, C, *) with C divisible by " + groups + " groups");
        }
        if (weight == null || bias == null) {
            throw new IllegalArgumentException("groupNorm: weight and bias of (" + shape.get(1)
                    + ") are required; pass ones and zeros for a norm without affine");
        }
        if (weight.getShape().size() != shape.get(1) || bias.getShape().size() != shape.get(1)) {
            throw new IllegalArgumentException("groupNorm: weight " + weight.getShape() + " and bias " + bias.getShape()
                    + " must have C=" + shape.get(1) + " elements for input " + shape);
        }
    }

    private static void checkAttention(NDArray q, NDArray k, NDArray v) {
        Shape qs = q.getShape();
        Shape ks = k.getShape();
        Shape vs = v.getShape();
        int r = qs.dimension();
        if (r < 2
                || ks.dimension() != r
                || vs.dimension() != r
                || qs.get(r - 1) != ks.get(r - 1)
                || ks.get(r - 2) != vs.get(r - 2)) {
            throw new IllegalArgumentException("attention: q " + qs + ", k " + ks + ", v " + vs
                    + " must be (..., Sq, D), (..., Sk, D), (..., Sk, Dv) of one rank");
        }
    }
}
