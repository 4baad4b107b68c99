package io.animatediff.engine.ops;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Opt-in bfloat16 convolutions and linear layers on the CPU, run by libtorch through {@link
 * FusedKernels} (DJL 0.36's PyTorch engine has no bfloat16 arrays). Off by default; switched on
 * for the process by {@code -D}{@value #PROPERTY}{@code =true} or {@link #setEnabled}.
 *
 * <p>When on, {@link Ops#linear} and {@link Ops#conv2d} cast the float32 activation to bfloat16
 * inside libtorch, run the kernel against a bfloat16 copy of the weight (float32 accumulation in
 * oneDNN) and cast the result back to float32; everything else (group norm, softmax and
 * attention, activations, the residual adds) stays float32. An op keeps float32 where the fused
 * kernels are not loaded or not in use ({@link Ops.Mode#COMPOSED}), where an array is not a
 * PyTorch float32 array on the CPU, or where the input or the weight records a gradient
 * (training): bfloat16 is an inference setting. It pays on CPUs with native bfloat16 dot
 * products (avx512_bf16 or AMX); elsewhere libtorch emulates them and it is slower.
 *
 * <p>Weight copies: the first bfloat16 use of a weight array casts it once; the copy (half the
 * float32 size) is held by libtorch on the weight's NDManager, so it is freed with the weight's
 * model, and is found again by the identity of the float32 array. Replacing a weight
 * ({@code Param.set}, a LoRA merge or its restore) gives a new array and so a new copy; copies of
 * closed weights are freed at the next cast. Writing into a weight array in place after its first
 * bfloat16 use is not seen: call {@link #clearCache} after such a change.
 */
public final class Bfloat16 {
    /** System property switching bfloat16 convolutions and linear layers on: {@code true} or {@code false}. */
    public static final String PROPERTY = "animatediff.bf16";

    private static volatile Boolean enabledOverride;
    private static final Map<NDArray, NDArray> COPIES = new IdentityHashMap<>(); // float32 weight -> bf16; guarded

    private Bfloat16() {}

    /** Whether the switch is on: {@link #setEnabled}'s value, else {@value #PROPERTY}'s, else off. */
    public static boolean enabled() {
        Boolean set = enabledOverride;
        if (set != null) {
            return set;
        }
        String property = System.getProperty(PROPERTY);
        if (property == null) {
            return false;
        }
        return switch (property.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default ->
                throw new IllegalArgumentException(
                        "-D" + PROPERTY + "=" + property + " is not a switch: use true or false");
        };
    }

    /** Switches bfloat16 on or off for the whole process; null returns to the system property. */
    public static void setEnabled(Boolean on) {
        enabledOverride = on;
    }

    /** Whether libtorch's bfloat16 kernels can be reached here (the fused kernels loaded). */
    public static boolean available() {
        return FusedKernels.get().isPresent();
    }

    /**
     * Whether {@link Ops} runs this op in bfloat16: switched on, mode FUSED with the kernels loaded,
     * x and weight PyTorch float32 CPU arrays (bias too, when given), no gradient recorded.
     */
    static boolean applies(NDArray x, NDArray weight, NDArray bias) {
        if (!enabled() || Ops.mode() != Ops.Mode.FUSED || !FusedKernels.accepts(x, weight) || !available()) {
            return false;
        }
        if (bias != null && (!FusedKernels.accepts(bias) || bias.getDataType() != DataType.FLOAT32)) {
            return false;
        }
        return x.getDataType() == DataType.FLOAT32
                && weight.getDataType() == DataType.FLOAT32
                && Device.Type.CPU.equals(x.getDevice().getDeviceType())
                && Device.Type.CPU.equals(weight.getDevice().getDeviceType())
                && !x.hasGradient()
                && !weight.hasGradient();
    }

    /**
     * y = x W^T + b in bfloat16, result float32; x (..., Cin) float32, weight (Cout, Cin) float32
     * (cast on every call) or a {@link #copyOf} copy, bias (Cout) float32 or null. The result
     * belongs to x's manager.
     */
    public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return kernels().linearBf16(x, weight, bias);
    }

    /**
     * 2-D convolution in bfloat16, result float32; x (N, Cin, H, W) float32, weight (Cout, Cin, k, k)
     * float32 (cast on every call) or a {@link #copyOf} copy, bias (Cout) float32 or null.
     */
    public static NDArray conv2d(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        return kernels().conv2dBf16(x, weight, bias, stride, padding);
    }

    /**
     * A new bfloat16 copy of a float32 array on its manager. DJL reports the copy's data type as
     * UNKNOWN and runs no op on it; it serves as the weight of {@link #linear} and {@link #conv2d}
     * and is closed like any array.
     */
    public static NDArray copyOf(NDArray weight) {
        return kernels().toBf16(weight);
    }

    /**
     * The cached bfloat16 copy of a weight, made at the first call; drops and frees the copies of
     * weights closed since.
     */
    public static NDArray cachedCopy(NDArray weight) {
        synchronized (COPIES) {
            NDArray copy = COPIES.get(weight);
            if (copy != null && !copy.isReleased()) {
                return copy;
            }
            removeStale();
            copy = copyOf(weight);
            NDScope.unregister(copy); // lives with the weight, not with the NDScope of the op that first used it
            COPIES.put(weight, copy);
            return copy;
        }
    }

    /** How many weight copies are cached. */
    public static int cachedWeights() {
        synchronized (COPIES) {
            removeStale();
            return COPIES.size();
        }
    }

    /** Bytes of the cached weight copies: 2 per element of each weight copied. */
    public static long cachedBytes() {
        synchronized (COPIES) {
            removeStale();
            return COPIES.keySet().stream().mapToLong(w -> 2 * w.size()).sum();
        }
    }

    /** Frees every cached weight copy; the next bfloat16 use of a weight casts it again. */
    public static void clearCache() {
        synchronized (COPIES) {
            COPIES.values().forEach(NDArray::close);
            COPIES.clear();
        }
    }

    private static void removeStale() {
        for (Iterator<Map.Entry<NDArray, NDArray>> it = COPIES.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<NDArray, NDArray> e = it.next();
            if (e.getKey().isReleased() || e.getValue().isReleased()) {
                e.getValue().close();
                it.remove();
            }
        }
    }

    private static FusedKernels kernels() {
        Optional<FusedKernels> kernels = FusedKernels.get();
        if (kernels.isEmpty()) {
            throw new IllegalStateException("bfloat16 ops need libtorch's kernels through TorchScript, which did not"
                    + " load (see the earlier warning): run without -D" + PROPERTY + "=true");
        }
        return kernels.get();
    }
}
