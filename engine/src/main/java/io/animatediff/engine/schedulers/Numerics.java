package io.animatediff.engine.schedulers;

/**
 * The float32 (torch, CPU) and float64 (numpy) numerics diffusers' schedulers are computed in,
 * replayed in Java so our tables equal theirs: torch keeps betas and alphas_cumprod in float32, numpy
 * builds timesteps and interpolates sigmas in float64. Every value that diffusers stores in float32
 * passes through {@link #f32}.
 */
final class Numerics {
    private Numerics() {}

    /** Rounds to the nearest float32, as storing into a torch.float32 tensor does. */
    static double f32(double x) {
        return (float) x;
    }

    /**
     * torch.linspace(start, end, n, dtype=torch.float32) on CPU: step in float32, the first half
     * counted up from start, the second half counted down from end (aten RangeFactoriesKernel).
     */
    static double[] torchLinspaceF32(double start, double end, int n) {
        float s = (float) start;
        float e = (float) end;
        double[] out = new double[n];
        if (n == 1) {
            out[0] = s;
            return out;
        }
        float step = (e - s) / (float) (n - 1);
        int halfway = n / 2;
        for (int i = 0; i < n; i++) {
            out[i] = i < halfway ? s + step * (float) i : e - step * (float) (n - 1 - i);
        }
        return out;
    }

    /** torch.cumprod of a float32 vector on CPU: accumulated in double, each output stored as float32. */
    static double[] torchCumprodF32(double[] values) {
        double[] out = new double[values.length];
        double acc = 1.0;
        for (int i = 0; i < values.length; i++) {
            acc *= values[i];
            out[i] = f32(acc);
        }
        return out;
    }

    /** numpy.linspace(start, stop, n) in float64: i * step + start, the last value exactly stop. */
    static double[] numpyLinspace(double start, double stop, int n) {
        double[] out = new double[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        double step = (stop - start) / (n - 1);
        for (int i = 0; i < n; i++) {
            out[i] = i * step + start;
        }
        out[n - 1] = stop;
        return out;
    }

    /**
     * The first {@code n} values of numpy.arange(start, stop, step) in float64: numpy fills
     * start + i * delta with delta = (start + step) - start.
     */
    static double[] numpyArange(double start, double step, int n) {
        double[] out = new double[n];
        double delta = (start + step) - start;
        for (int i = 0; i < n; i++) {
            out[i] = i == 0 ? start : i == 1 ? start + step : start + i * delta;
        }
        return out;
    }

    /**
     * numpy.interp(x, arange(len(fp)), fp) for one x: linear between neighbours, the end values
     * outside the range (numpy compiled_base.c arr_interp).
     */
    static double numpyInterp(double x, double[] fp) {
        int last = fp.length - 1;
        if (Double.isNaN(x)) {
            return x;
        }
        if (x <= 0) {
            return fp[0];
        }
        if (x >= last) {
            return fp[last];
        }
        int j = (int) Math.floor(x);
        if (j == x) {
            return fp[j];
        }
        double slope = (fp[j + 1] - fp[j]) / ((j + 1) - j);
        return slope * (x - j) + fp[j];
    }
}
