package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
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
        float total = totalNorm(grads, scratch);
        float coef = coefficient(total, maxNorm);
        if (coef < 1f) {
            for (NDArray g : grads) {
                g.muli(coef);
            }
        }
        return total;
    }

    /**
     * The global L2 norm of {@code grads}: each gradient's norm in its dtype (torch.linalg.vector_norm),
     * read back to the host in one transfer, squared and summed in double.
     */
    public static float totalNorm(Collection<NDArray> grads, NDManager scratch) {
        NDList norms = new NDList(grads.size());
        for (NDArray g : grads) {
            NDArray n = g.norm(); // () in the gradient's dtype
            n.attach(scratch);
            norms.add(n);
        }
        NDArray stacked = NDArrays.stack(norms); // (number of gradients)
        stacked.attach(scratch);
        double sum = 0;
        for (float v : stacked.toFloatArray()) {
            sum += (double) v * v;
        }
        return (float) Math.sqrt(sum);
    }

    /** The factor gradients are scaled by: min(1, maxNorm / (total + 1e-6)) in float32, as torch. */
    public static float coefficient(float total, double maxNorm) {
        float coef = (float) (maxNorm / (total + 1e-6));
        return Math.min(coef, 1f);
    }
}
