package io.animatediff.engine.training;

import ai.djl.pytorch.jni.JniUtils;

/** torch.no_grad() for a block: autograd off (thread-local in libtorch), the previous mode restored on close. */
final class NoGrad implements AutoCloseable {
    private final boolean previous;

    NoGrad() {
        previous = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
    }

    @Override
    public void close() {
        JniUtils.setGradMode(previous);
    }
}
