package io.animatediff.engine.clip;

import static io.animatediff.engine.clip.CLIPTextModelTest.assertClose;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.nn.Param;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** One CLIP encoder layer against a scalar re-implementation of transformers' CLIPEncoderLayer. */
class CLIPEncoderLayerTest {

    @Test
    void encoderLayerMatchesAScalarReference() {
        int c = 8;
        int heads = 2;
        int d = c / heads;
        int inter = 16;
        int s = 5;
        double eps = 1e-5;
        CLIPTextConfig cfg = new CLIPTextConfig(10, c, inter, 1, heads, s, CLIPTextConfig.QUICK_GELU, eps);
        try (NDManager m = NDManager.newBaseManager()) {
            CLIPEncoderLayer layer = new CLIPEncoderLayer(cfg);
            long[] seed = {40};
            layer.visit("", (k, p) -> {
                float[] v = uniform(seed[0]++, Math.toIntExact(p.shape().size()), -0.5, 0.5);
                if (k.endsWith("norm1.weight") || k.endsWith("norm2.weight")) {
                    for (int i = 0; i < v.length; i++) {
                        v[i] += 1; // gamma around 1
                    }
                }
                p.set(m.create(v, p.shape()));
            });
            float[] x = uniform(7, s * c, -1, 1); // (1, S, C)
            float[] actual = layer.forward(m.create(x, new Shape(1, s, c)), CausalAttention.mask(m, s))
                    .toFloatArray();

            Map<String, Param> p = layer.namedTensors();
            double[][] h = new double[s][c];
            for (int i = 0; i < s; i++) {
                for (int j = 0; j < c; j++) {
                    h[i][j] = x[i * c + j];
                }
            }
            // 1. self-attention block: causal, scale D^-0.5
            double[][] n1 = layerNorm(h, p, "layer_norm1", eps);
            double[][] q = linear(n1, p, "self_attn.q_proj");
            double[][] k = linear(n1, p, "self_attn.k_proj");
            double[][] v = linear(n1, p, "self_attn.v_proj");
            double[][] o = new double[s][c];
            for (int head = 0; head < heads; head++) {
                for (int i = 0; i < s; i++) {
                    double[] e = new double[i + 1]; // keys 0..i only
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int t = head * d; t < (head + 1) * d; t++) {
                            dot += q[i][t] * k[j][t];
                        }
                        e[j] = dot / Math.sqrt(d);
                        max = Math.max(max, e[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        e[j] = Math.exp(e[j] - max);
                        sum += e[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        for (int t = head * d; t < (head + 1) * d; t++) {
                            o[i][t] += e[j] / sum * v[j][t];
                        }
                    }
                }
            }
            double[][] attn = linear(o, p, "self_attn.out_proj");
            for (int i = 0; i < s; i++) {
                for (int j = 0; j < c; j++) {
                    h[i][j] += attn[i][j];
                }
            }
            // 2. MLP block with quick_gelu
            double[][] f1 = linear(layerNorm(h, p, "layer_norm2", eps), p, "mlp.fc1");
            for (double[] row : f1) {
                for (int j = 0; j < row.length; j++) {
                    row[j] = row[j] / (1 + Math.exp(-1.702 * row[j]));
                }
            }
            double[][] f2 = linear(f1, p, "mlp.fc2");
            float[] expected = new float[s * c];
            for (int i = 0; i < s; i++) {
                for (int j = 0; j < c; j++) {
                    expected[i * c + j] = (float) (h[i][j] + f2[i][j]);
                }
            }
            assertClose(expected, actual, 1e-5, 1e-4);
        }
    }

    private static double[][] layerNorm(double[][] rows, Map<String, Param> p, String name, double eps) {
        float[] g = p.get(name + ".weight").get().toFloatArray();
        float[] b = p.get(name + ".bias").get().toFloatArray();
        double[][] y = new double[rows.length][];
        for (int r = 0; r < rows.length; r++) {
            double mean = 0;
            for (double v : rows[r]) {
                mean += v;
            }
            mean /= rows[r].length;
            double var = 0;
            for (double v : rows[r]) {
                var += (v - mean) * (v - mean);
            }
            var /= rows[r].length;
            y[r] = new double[rows[r].length];
            for (int j = 0; j < rows[r].length; j++) {
                y[r][j] = (rows[r][j] - mean) / Math.sqrt(var + eps) * g[j] + b[j];
            }
        }
        return y;
    }

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

    private static float[] uniform(long seed, int n, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return v;
    }
}
