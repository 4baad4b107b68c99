package io.animatediff.engine.vae;

import static io.animatediff.engine.vae.AutoencoderKLTest.assertClose;
import static io.animatediff.engine.vae.AutoencoderKLTest.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.unet.Downsample2D;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** VAE blocks against hand-computed references. */
class VaeBlocksTest {
    private static NDManager manager;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    @Test
    void djlPadOrderIsTorchFPadLastAxisFirst() {
        // torch: F.pad(x, (0, 1, 0, 1)) pads W by (0 left, 1 right), then H by (0 top, 1 bottom)
        try (NDManager m = manager.newSubManager()) {
            NDArray x = m.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(1, 1, 2, 3));
            NDArray padded = x.pad(new Shape(0, 1, 0, 1), 0);
            assertEquals(new Shape(1, 1, 3, 4), padded.getShape());
            assertClose(new float[] {1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0}, padded.toFloatArray(), 0, 0);
        }
    }

    @Test
    void downsampleWithPaddingZeroPadsRightAndBottom() {
        // x[i][j] = 4i + j + 1 on 4x4, all-ones 3x3 kernel, stride 2, after padding right/bottom:
        // out[0][0] = rows 0-2 x cols 0-2 = 54; out[0][1] = rows 0-2 x cols 2-3 = 45;
        // out[1][0] = rows 2-3 x cols 0-2 = 72; out[1][1] = rows 2-3 x cols 2-3 = 54.
        // (Padding left/top instead would give out[0][0] = 1 + 2 + 5 + 6 = 14.)
        try (NDManager m = manager.newSubManager()) {
            Downsample2D down = new Downsample2D(1, 0);
            Map<String, Param> p = down.namedTensors();
            p.get("conv.weight").set(m.ones(new Shape(1, 1, 3, 3)));
            p.get("conv.bias").set(m.zeros(new Shape(1)));
            float[] x = new float[16];
            for (int i = 0; i < 16; i++) {
                x[i] = i + 1;
            }
            NDArray out = down.forward(m.create(x, new Shape(1, 1, 4, 4)));
            assertEquals(new Shape(1, 1, 2, 2), out.getShape());
            assertClose(new float[] {54, 45, 72, 54}, out.toFloatArray(), 1e-5, 0);
        }
    }

    @Test
    void vaeAttentionMatchesAScalarReference() {
        int c = 8;
        int groups = 2;
        int h = 2;
        int w = 3;
        int s = h * w;
        double eps = 1e-6;
        try (NDManager m = manager.newSubManager()) {
            VaeAttention attn = new VaeAttention(c, 1, groups, eps, 1.0);
            randomize(attn, m, 21);
            float[] x = uniform(22, c * s, -2, 2); // (1, C, H, W)
            float[] actual = attn.forward(m.create(x, new Shape(1, c, h, w))).toFloatArray();

            Map<String, Param> p = attn.namedTensors();
            // 1. group norm over (C / G channels x H x W), biased variance
            double[][] tok = new double[s][c]; // (S, C)
            float[] gamma = p.get("group_norm.weight").get().toFloatArray();
            float[] beta = p.get("group_norm.bias").get().toFloatArray();
            int per = c / groups;
            for (int g = 0; g < groups; g++) {
                double mean = 0;
                for (int ch = g * per; ch < (g + 1) * per; ch++) {
                    for (int i = 0; i < s; i++) {
                        mean += x[ch * s + i];
                    }
                }
                mean /= per * s;
                double var = 0;
                for (int ch = g * per; ch < (g + 1) * per; ch++) {
                    for (int i = 0; i < s; i++) {
                        var += (x[ch * s + i] - mean) * (x[ch * s + i] - mean);
                    }
                }
                var /= per * s;
                for (int ch = g * per; ch < (g + 1) * per; ch++) {
                    for (int i = 0; i < s; i++) {
                        tok[i][ch] = (x[ch * s + i] - mean) / Math.sqrt(var + eps) * gamma[ch] + beta[ch];
                    }
                }
            }
            // 2. single-head attention, scale C^-0.5
            double[][] q = linear(tok, p, "to_q");
            double[][] k = linear(tok, p, "to_k");
            double[][] v = linear(tok, p, "to_v");
            double[][] o = new double[s][c];
            for (int i = 0; i < s; i++) {
                double[] e = new double[s];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < s; j++) {
                    double dot = 0;
                    for (int d = 0; d < c; d++) {
                        dot += q[i][d] * k[j][d];
                    }
                    e[j] = dot / Math.sqrt(c);
                    max = Math.max(max, e[j]);
                }
                double sum = 0;
                for (int j = 0; j < s; j++) {
                    e[j] = Math.exp(e[j] - max);
                    sum += e[j];
                }
                for (int j = 0; j < s; j++) {
                    for (int d = 0; d < c; d++) {
                        o[i][d] += e[j] / sum * v[j][d];
                    }
                }
            }
            double[][] out = linear(o, p, "to_out.0");
            // 3. back to (C, H, W) plus the residual
            float[] expected = new float[c * s];
            for (int ch = 0; ch < c; ch++) {
                for (int i = 0; i < s; i++) {
                    expected[ch * s + i] = (float) (out[i][ch] + x[ch * s + i]);
                }
            }
            assertClose(expected, actual, 1e-5, 1e-4);
        }
    }

    /** rows (S, Cin) -> (S, Cout) with {@code name}.weight (Cout, Cin) and {@code name}.bias. */
    private static double[][] linear(double[][] rows, Map<String, Param> p, String name) {
        Param wp = p.get(name + ".weight");
        float[] wt = wp.get().toFloatArray();
        float[] b = p.get(name + ".bias").get().toFloatArray();
        int out = (int) wp.shape().get(0);
        int in = (int) wp.shape().get(1);
        double[][] y = new double[rows.length][out];
        for (int r = 0; r < rows.length; r++) {
            for (int o = 0; o < out; o++) {
                double acc = b[o];
                for (int i = 0; i < in; i++) {
                    acc += wt[o * in + i] * rows[r][i];
                }
                y[r][o] = acc;
            }
        }
        return y;
    }

    /** Every parameter (norm affines included) drawn uniformly, so no term is trivially 0 or 1. */
    private static void randomize(Module module, NDManager m, long seed) {
        long[] s = {seed};
        module.visit("", (k, p) -> {
            int n = Math.toIntExact(p.shape().size());
            p.set(m.create(uniform(s[0]++, n, -0.5, 0.5), p.shape()));
        });
    }
}
