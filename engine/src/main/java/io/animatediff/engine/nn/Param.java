package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * One named tensor of a block: a learnable parameter or a buffer (such as a positional table).
 * Its shape is known at construction, so a model's size can be counted without allocating it.
 */
public final class Param {
    /** How a fresh (untrained) parameter is filled; torch's defaults for the layer that owns it. */
    public enum Init {
        ZEROS,
        ONES,
        /** torch's Linear/Conv default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
        FAN_IN_UNIFORM,
        /** N(0, 1), torch's Embedding default. */
        NORMAL,
        /** Computed by the owning block (e.g. a sinusoidal table); not drawn at random. */
        COMPUTED
    }

    private final String name;
    private final Shape shape;
    private final boolean buffer;
    private final Init init;
    private final long fanIn;
    private NDArray value;
    private boolean trainable = true;

    Param(String name, Shape shape, boolean buffer, Init init, long fanIn) {
        this.name = name;
        this.shape = shape;
        this.buffer = buffer;
        this.init = init;
        this.fanIn = fanIn;
    }

    public String name() {
        return name;
    }

    public Shape shape() {
        return shape;
    }

    /** True for buffers (not counted as parameters, optional in checkpoints). */
    public boolean isBuffer() {
        return buffer;
    }

    public Init init() {
        return init;
    }

    long fanIn() {
        return fanIn;
    }

    public boolean isTrainable() {
        return trainable && !buffer;
    }

    public void setTrainable(boolean trainable) {
        this.trainable = trainable;
        if (value != null) {
            value.setRequiresGradient(isTrainable() && trainable);
        }
    }

    public boolean isSet() {
        return value != null;
    }

    /** The value; fails with the parameter's name if it was never loaded or initialised. */
    public NDArray get() {
        if (value == null) {
            throw new IllegalStateException("weight '" + name + "' " + shape + " was never loaded or initialised");
        }
        return value;
    }

    /**
     * Replaces the value (closing the previous one unless it is the same array). The shape must
     * match exactly.
     */
    public void set(NDArray array) {
        if (!array.getShape().equals(shape)) {
            throw new IllegalArgumentException(
                    "weight '" + name + "' expects shape " + shape + " but got " + array.getShape());
        }
        if (value != null && value != array) {
            value.close();
        }
        value = array;
    }

    /**
     * Swaps in a new value of the same shape and returns the previous one without closing it (LoRA
     * merges keep the original to restore it exactly).
     */
    public NDArray replace(NDArray array) {
        if (!array.getShape().equals(shape)) {
            throw new IllegalArgumentException(
                    "weight '" + name + "' expects shape " + shape + " but got " + array.getShape());
        }
        NDArray old = value;
        value = array;
        return old;
    }

    /** Detaches the value without closing it (for moving weights between owners). */
    NDArray take() {
        NDArray v = value;
        value = null;
        return v;
    }
}
