package io.animatediff.engine.pipeline;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Ports diffusers' FreeInitMixin (src/diffusers/pipelines/free_init_utils.py; Wu et al. 2023,
 * arXiv 2312.07537): after a full denoising pass the latents are diffused back to t = T - 1 with
 * the first pass's initial noise, and their low spatio-temporal frequencies are kept while the high
 * ones are replaced by fresh noise; the pass is then repeated. Fewer flickering frames, at
 * {@code iterations} times the cost (less with fast sampling).
 *
 * <p>The filter acts on the last three axes (F, H, W) of latents (B, C, F, H, W): mixed = real(
 * ifftn(ifftshift(fftshift(fftn(z_t)) * LPF + fftshift(fftn(z_rand)) * (1 - LPF)))). Being linear,
 * it is computed as z_rand + real(ifftn(M * fftn(z_t - z_rand))) with M = ifftshift(LPF), by
 * separable DFTs in double precision.
 *
 * @param iterations passes of the whole denoising loop (1 = FreeInit off)
 * @param method "butterworth", "gaussian" or "ideal"
 * @param order Butterworth order
 * @param spatialStopFrequency d_s in (0, 1]
 * @param temporalStopFrequency d_t in (0, 1]
 * @param fastSampling coarse-to-fine: pass i of n uses steps * (i + 1) / n steps
 */
public record FreeInit(
        int iterations,
        String method,
        int order,
        double spatialStopFrequency,
        double temporalStopFrequency,
        boolean fastSampling) {

    public static final List<String> METHODS = List.of("butterworth", "gaussian", "ideal");

    public FreeInit {
        method = method == null ? "butterworth" : method.toLowerCase(Locale.ROOT);
        List<String> p = problems(iterations, method, order, spatialStopFrequency, temporalStopFrequency);
        if (!p.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", p));
        }
    }

    /** diffusers' enable_free_init defaults with the given number of iterations. */
    public static FreeInit defaults(int iterations) {
        return new FreeInit(iterations, "butterworth", 4, 0.25, 0.25, false);
    }

    /** Every problem with these settings, each naming its field. */
    public static List<String> problems(int iterations, String method, int order, double ds, double dt) {
        List<String> p = new ArrayList<>();
        if (iterations < 1 || iterations > 10) {
            p.add("free_init_iterations: " + iterations + " is outside [1, 10]");
        }
        if (!METHODS.contains(method)) {
            p.add("free_init_method: \"" + method + "\" is unknown: use one of " + METHODS);
        }
        if (order < 1 || order > 16) {
            p.add("free_init_order: " + order + " is outside [1, 16]");
        }
        if (!(ds > 0) || ds > 1) {
            p.add("free_init_spatial_stop_frequency: " + ds + " is outside (0, 1]");
        }
        if (!(dt > 0) || dt > 1) {
            p.add("free_init_temporal_stop_frequency: " + dt + " is outside (0, 1]");
        }
        return p;
    }

    /** Inference steps of pass {@code iteration} (0-based) for {@code steps} requested. */
    public int stepsFor(int iteration, int steps) {
        return fastSampling ? Math.max(1, (int) ((double) steps / iterations * (iteration + 1))) : steps;
    }

    /** The low-pass filter (F, H, W) in the centred (fftshift-ed) frequency layout, as diffusers builds it. */
    public double[] lowPassFilter(int time, int height, int width) {
        double[] mask = new double[time * height * width];
        double ds = spatialStopFrequency;
        double ratio = ds / temporalStopFrequency;
        int i = 0;
        for (int t = 0; t < time; t++) {
            for (int h = 0; h < height; h++) {
                for (int w = 0; w < width; w++) {
                    double a = ratio * (2.0 * t / time - 1);
                    double b = 2.0 * h / height - 1;
                    double c = 2.0 * w / width - 1;
                    double d2 = a * a + b * b + c * c;
                    double m = switch (method) {
                        case "butterworth" -> 1 / (1 + Math.pow(d2 / (ds * ds), order));
                        case "gaussian" -> Math.exp(-1 / (2 * ds * ds) * d2);
                        default -> d2 <= ds * 2 ? 1 : 0;
                    };
                    mask[i++] = (float) m; // torch.zeros(shape) holds float32
                }
            }
        }
        return mask;
    }

    /**
     * The re-initialised latents: low frequencies of {@code zt}, high frequencies of {@code zRand};
     * both (B, C, F, H, W) as flat float32 values with the given shape.
     */
    public float[] mix(float[] zt, float[] zRand, long[] shape) {
        int f = (int) shape[2];
        int h = (int) shape[3];
        int w = (int) shape[4];
        int slab = f * h * w;
        double[] centred = lowPassFilter(f, h, w);
        double[] m = new double[slab]; // ifftshift: unshifted index j reads centred index (j + n/2) % n
        for (int t = 0; t < f; t++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int st = (t + f / 2) % f;
                    int sy = (y + h / 2) % h;
                    int sx = (x + w / 2) % w;
                    m[(t * h + y) * w + x] = centred[(st * h + sy) * w + sx];
                }
            }
        }
        float[] out = new float[zt.length];
        double[] re = new double[slab];
        double[] im = new double[slab];
        for (int base = 0; base < zt.length; base += slab) {
            for (int j = 0; j < slab; j++) {
                re[j] = (double) zt[base + j] - zRand[base + j];
                im[j] = 0;
            }
            dft3(re, im, f, h, w, false);
            for (int j = 0; j < slab; j++) {
                re[j] *= m[j];
                im[j] *= m[j];
            }
            dft3(re, im, f, h, w, true);
            for (int j = 0; j < slab; j++) {
                out[base + j] = (float) (zRand[base + j] + re[j]);
            }
        }
        return out;
    }

    /** In-place 3-D DFT over (F, H, W) (the inverse divides by F H W), one axis at a time. */
    private static void dft3(double[] re, double[] im, int f, int h, int w, boolean inverse) {
        for (int l = 0; l < h * w; l++) {
            dftLine(re, im, f, h * w, l, inverse); // along F
        }
        for (int t = 0; t < f; t++) {
            for (int x = 0; x < w; x++) {
                dftLine(re, im, h, w, t * h * w + x, inverse); // along H
            }
            for (int y = 0; y < h; y++) {
                dftLine(re, im, w, 1, (t * h + y) * w, inverse); // along W
            }
        }
    }

    private static void dftLine(double[] re, double[] im, int n, int stride, int offset, boolean inverse) {
        double[] r = new double[n];
        double[] i = new double[n];
        double sign = inverse ? 1 : -1;
        double[] cos = new double[n];
        double[] sin = new double[n];
        for (int k = 0; k < n; k++) {
            cos[k] = Math.cos(2 * Math.PI * k / n);
            sin[k] = sign * Math.sin(2 * Math.PI * k / n);
        }
        for (int k = 0; k < n; k++) {
            double sr = 0;
            double si = 0;
            for (int j = 0; j < n; j++) {
                int q = (int) ((long) k * j % n);
                double xr = re[offset + j * stride];
                double xi = im[offset + j * stride];
                sr += xr * cos[q] - xi * sin[q];
                si += xr * sin[q] + xi * cos[q];
            }
            r[k] = inverse ? sr / n : sr;
            i[k] = inverse ? si / n : si;
        }
        for (int k = 0; k < n; k++) {
            re[offset + k * stride] = r[k];
            im[offset + k * stride] = i[k];
        }
    }
}
