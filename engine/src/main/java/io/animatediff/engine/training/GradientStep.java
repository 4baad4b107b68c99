package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.animatediff.engine.nn.Param;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The update after a backward pass, as train.py does it: gradients clipped to a global norm
 * ({@link ClipGradNorm}), one {@link AdamW} step, gradients zeroed. Runs with autograd off; every
 * temporary lives in a child of {@code manager} closed before returning.
 */
final class GradientStep {
    private GradientStep() {}

    /** Applies the accumulated gradients of {@code trainable}; returns the gradient norm before clipping. */
    static double apply(Map<String, Param> trainable, AdamW optimizer, double maxGradNorm, NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            Map<String, NDArray> grads = new LinkedHashMap<>();
            for (Map.Entry<String, Param> e : trainable.entrySet()) {
                NDArray g = e.getValue().get().getGradient(); // a new handle on the weight's manager
                g.attach(scope);
                grads.put(e.getKey(), g);
            }
            double norm = applyGradients(grads, optimizer, maxGradNorm, scope);
            for (Param p : trainable.values()) {
                JniUtils.zeroGrad((PtNDArray) p.get());
            }
            return norm;
        }
    }

    /**
     * Applies gradients held outside the weights (summed from {@link io.animatediff.engine.ops.Ops#gradients}
     * by parallel micro-batches), in {@code trainable}'s order; returns the norm before clipping.
     */
    static double applyGradients(Map<String, NDArray> grads, AdamW optimizer, double maxGradNorm, NDManager manager) {
        try (NDManager scope = manager.newSubManager();
                NoGrad noGrad = new NoGrad()) {
            // the clipping factor is applied inside the optimizer's flat update: the same numbers as
            // scaling every gradient in place first, in one native op instead of one per tensor
            float norm = ClipGradNorm.totalNorm(grads.values(), scope);
            optimizer.step(grads, ClipGradNorm.coefficient(norm, maxGradNorm), scope);
            return norm;
        }
    }
}
