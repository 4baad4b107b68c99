package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Collection;

/**
 * Ports torch.nn.utils.clip_grad_norm_ (L2): the global norm of all gradients, sqrt(sum of each
 * gradient's squared L2 norm), and, scaled in place by min(1, max_norm / (norm + 1e-6)).
 */
public final class ClipGradNorm {
    private ClipGradNorm() {}

    /** Clips {@code grads} in place; returns the total norm before clipping. Temporaries go to {@code scratch}. */
    public static double clip(Collection<NDArray> grads, double maxNorm, NDManager scratch) {
        double sum = 0;
        for (NDArray g : grads) {
            NDArray n = g.norm(); // torch.linalg.vector_norm(g, 2) in the gradient's dtype
            n.attach(scratch);
            double v = n.getFloat();
            sum += v * v;
        }
        float total = (float) Math.sqrt(sum);
        float coef = (float) (maxNorm / (total + 1e-6));
        if (coef < 1f) {
            for (NDArray g : grads) {
                g.muli(coef);
            }
        }
        return total;
    }
}
