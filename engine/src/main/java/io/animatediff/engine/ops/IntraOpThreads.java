package io.animatediff.engine.ops;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;

/**
 * libtorch's intra-op thread count for a block ({@code torch.set_num_threads}), the previous count
 * restored on close. Small models gain nothing from splitting one op across cores (a tiny motion
 * step takes 0.31 s on one thread and on two), so work that runs several of them side by side (micro-
 * batches on parallel threads) sets one thread per op rather than oversubscribing the cores. The
 * count is process-wide: other work running meanwhile sees it too.
 */
public final class IntraOpThreads implements AutoCloseable {
    private final int previous;

    private IntraOpThreads(int threads) {
        Engine.getEngine("PyTorch"); // loads libtorch: the thread count is a native call
        previous = JniUtils.getNumThreads();
        JniUtils.setNumThreads(threads);
    }

    /** Sets {@code threads} (>= 1) until {@link #close()}. */
    public static IntraOpThreads set(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("intra-op threads: " + threads + " must be >= 1");
        }
        return new IntraOpThreads(threads);
    }

    /** The current count. */
    public static int current() {
        Engine.getEngine("PyTorch");
        return JniUtils.getNumThreads();
    }

    @Override
    public void close() {
        JniUtils.setNumThreads(previous);
    }
}
