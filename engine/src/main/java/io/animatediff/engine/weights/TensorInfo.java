package io.animatediff.engine.weights;

import java.util.Arrays;
import java.util.Objects;

/**
 * What a tensor file says about one tensor: its key, element type and shape (empty for a scalar).
 * The shape array is copied in and out, so instances are immutable.
 */
public record TensorInfo(String key, Dtype dtype, long[] shape) {

    public TensorInfo {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        "tensor '" + key + "' has a negative dimension in shape " + Arrays.toString(shape));
            }
        }
    }

    /** A copy of the shape. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (1 for a scalar); overflow is refused. */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Bytes the tensor occupies when stored contiguously. */
    public long byteSize() {
        return Math.multiplyExact(numel(), (long) dtype.byteSize());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && key.equals(t.key) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(key, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return "TensorInfo[key=" + key + ", dtype=" + dtype + ", shape=" + Arrays.toString(shape) + "]";
    }
}
