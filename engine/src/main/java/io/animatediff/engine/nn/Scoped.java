package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import java.util.function.Supplier;

/**
 * Runs a block's forward so that only its output survives: every array the block creates is closed
 * when it returns, instead of living in the step's manager until the step ends. Without it a UNet
 * forward keeps all its activations alive at once (measured: peak RSS 13.7 GB against 6.6 GB with it
 * for SD1.5 widths with a v2 motion module, 16 frames) and every allocation touches fresh pages.
 * Autograd keeps what backward needs: closing an array releases only its handle, not the tensor the
 * graph saved.
 */
public final class Scoped {
    private Scoped() {}

    /** Evaluates {@code body} in an {@link NDScope}; the result is handed to an enclosing scope, if any. */
    public static NDArray forward(Supplier<NDArray> body) {
        NDArray result;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            result = body.get();
            NDScope.unregister(result);
        }
        NDScope.register(result);
        return result;
    }
}
