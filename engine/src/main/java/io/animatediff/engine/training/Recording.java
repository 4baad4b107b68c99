package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Autograd recording for a block on this thread, as DJL's {@code PtGradientCollector} does it (grad
 * mode on, the previous mode restored on close; {@link #backward} seeds d loss = 1 and frees the
 * graph), without its process-wide flag that allows one collector at a time: libtorch's grad mode is
 * per thread and its gradient accumulation is locked per weight, so trainers on separate threads
 * (the world recipe's personalization and LoRA side by side) can each record.
 */
final class Recording implements AutoCloseable {
    private final boolean previous;

    Recording() {
        previous = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
    }

    /** Backward from a loss, accumulating into the {@code .grad} of the weights that require it. */
    void backward(NDArray loss) {
        NDArray seed = loss.getManager().ones(loss.getShape(), loss.getDataType());
        try {
            JniUtils.backward((PtNDArray) loss, (PtNDArray) seed, false, false);
        } finally {
            seed.close();
        }
    }

    @Override
    public void close() {
        JniUtils.setGradMode(previous);
    }
}
