package io.animatediff.engine.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A file of named tensors, read lazily: opening reads only the index, {@link #load} reads one
 * tensor. Implementations are safe for concurrent loads until closed.
 */
public interface TensorSource extends AutoCloseable {

    /** The file this source reads. */
    Path path();

    /** "safetensors" or "torch-zip". */
    String format();

    /** Tensor keys in file order. */
    List<String> keys();

    /** Whether the file holds a tensor under this key. */
    boolean contains(String key);

    /** The tensor's dtype and shape; IllegalArgumentException naming the key and the file if absent. */
    TensorInfo info(String key);

    /**
     * Loads one tensor into {@code manager} as a contiguous array owned by it (never a view of the
     * file). Floating tensors (F64, F32, F16, BF16) convert to any floating {@code target}; other
     * dtypes load only as their own type. DJL's PyTorch engine has no BFLOAT16 (nor INT16) arrays,
     * so there these targets are refused with an IllegalArgumentException; BF16 tensors load as
     * FLOAT32 (exact) or FLOAT16.
     */
    NDArray load(String key, NDManager manager, DataType target);

    /** Loads one tensor as FLOAT32. */
    default NDArray load(String key, NDManager manager) {
        return load(key, manager, DataType.FLOAT32);
    }

    /** The tensor's values as floats in row-major order; for small tensors and tests. */
    float[] loadFloats(String key);

    /** The safetensors {@code __metadata__}; empty for a checkpoint. */
    Map<String, String> metadata();

    @Override
    void close();
}
