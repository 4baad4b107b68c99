package io.animatediff.engine.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Map;

/** Test tensors and configs shared by the scheduler tests, built like the numpy derivations. */
final class Fixtures {
    private Fixtures() {}

    /** numpy.linspace(start, stop, 12).astype(float32).reshape(1, 3, 2, 2). */
    static NDArray linspace12(NDManager manager, double start, double stop) {
        double[] d = Numerics.numpyLinspace(start, stop, 12);
        float[] f = new float[12];
        for (int i = 0; i < 12; i++) {
            f[i] = (float) d[i];
        }
        return manager.create(f, new Shape(1, 3, 2, 2));
    }

    /** The sample x of the one-step tests: linspace(-1, 1, 12), shape (1, 3, 2, 2). */
    static NDArray x(NDManager manager) {
        return linspace12(manager, -1, 1);
    }

    /** The second tensor (noise or model output) of the one-step tests: linspace(0.5, -0.6, 12). */
    static NDArray z(NDManager manager) {
        return linspace12(manager, 0.5, -0.6);
    }

    /**
     * diffusers tests/schedulers/test_schedulers.py dummy_sample_deter (reversed = dummy_noise_deter):
     * arange(768).reshape(3, 8, 8, 4) / 768 permuted to (4, 3, 8, 8).
     */
    static NDArray dummyDeter(NDManager manager, boolean reversed) {
        int n = 4 * 3 * 8 * 8;
        float[] f = new float[n];
        int k = 0;
        for (int b = 0; b < 4; b++) {
            for (int c = 0; c < 3; c++) {
                for (int h = 0; h < 8; h++) {
                    for (int w = 0; w < 8; w++) {
                        int idx = c * 256 + h * 32 + w * 4 + b;
                        f[k++] = (float) (reversed ? n - 1 - idx : idx) / (float) n;
                    }
                }
            }
        }
        return manager.create(f, new Shape(4, 3, 8, 8));
    }

    /** diffusers' dummy_model: sample * t / (t + 1). */
    static NDArray dummyModel(NDArray sample, double t) {
        return sample.mul(t).div(t + 1);
    }

    /** Stable Diffusion 1.5's scheduler betas (0.00085..0.012 "scaled_linear") with overrides. */
    static SchedulerConfig sd(Map<String, ?> overrides) {
        return SchedulerConfig.defaults().with(overrides);
    }

    /** The AnimateDiff inference config with overrides. */
    static SchedulerConfig ad(Map<String, ?> overrides) {
        return SchedulerConfig.animateDiffDefault().with(overrides);
    }

    /** Sum and mean of |x|, as diffusers' full-loop tests report. */
    static double[] absSumMean(NDArray x) {
        float[] f = x.toFloatArray();
        double sum = 0;
        for (float v : f) {
            sum += Math.abs(v);
        }
        return new double[] {sum, sum / f.length};
    }
}
