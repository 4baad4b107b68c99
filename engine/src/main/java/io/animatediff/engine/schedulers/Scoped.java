package io.animatediff.engine.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.function.Supplier;

/** Runs a scheduler's tensor arithmetic so that only its result survives, on the sample's manager. */
final class Scoped {
    private Scoped() {}

    /**
     * Evaluates {@code body} inside an {@link NDScope}: every intermediate it creates is closed, the
     * result (which must be a new array) moves to {@code sample}'s manager and is handed to an
     * enclosing scope, if any.
     */
    static NDArray compute(NDArray sample, Supplier<NDArray> body) {
        NDArray result = io.animatediff.engine.nn.Scoped.forward(body);
        if (result.getManager() != sample.getManager()) {
            result.attach(sample.getManager());
        }
        return result;
    }

    static void requireSameShape(String what, NDArray array, NDArray sample) {
        Shape a = array.getShape();
        Shape s = sample.getShape();
        if (!a.equals(s)) {
            throw new IllegalArgumentException(
                    what + " has shape " + a + " but the sample has shape " + s + "; the scheduler needs them equal");
        }
    }
}
