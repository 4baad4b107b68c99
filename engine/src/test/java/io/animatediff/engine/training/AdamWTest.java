package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Param;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Golden numbers from a float32 numpy port of torch.optim.AdamW and clip_grad_norm_. */
class AdamWTest {

    @Test
    void threeStepsMatchTorchAdamW() {
        try (NDManager m = NDManager.newBaseManager()) {
            Linear layer = new Linear(3, 2, false); // weight (2, 3)
            Param w = layer.weight;
            w.set(m.create(new float[] {0.5f, -1f, 2f, 0f, 0.25f, -0.75f}, new Shape(2, 3)));
            AdamW opt = new AdamW(Map.of("weight", w), m, 1e-2, 0.9, 0.999, 1e-8, 0.1);
            float[][] grads = {
                {0.1f, -0.2f, 0.3f, 0f, 1.5f, -0.05f},
                {-0.4f, 0.2f, 0.1f, 0.3f, -1f, 0.02f},
                {0.05f, 0.05f, -0.6f, -0.2f, 0.7f, 0f}
            };
            int before = m.getManagedArrays().size();
            for (float[] g : grads) {
                try (NDManager scratch = m.newSubManager()) {
                    opt.step(Map.of("weight", scratch.create(g, new Shape(2, 3))), scratch);
                }
            }
            assertEquals(before, m.getManagedArrays().size(), "updates are in place, temporaries scoped");
            assertEquals(3, opt.stepCount());
            Close.assertClose(
                    w.get().toFloatArray(),
                    new float[] {
                        0.49763497710227966f,
                        -0.9890623092651367f,
                        1.977839469909668f,
                        -0.008674581535160542f,
                        0.23447175323963165f,
                        -0.7316481471061707f
                    },
                    1e-6,
                    1e-5,
                    "weights");
            Close.assertClose(
                    opt.state().get("exp_avg.weight").toFloatArray(),
                    new float[] {-0.0229f, 0.0068f, -0.0267f, 0.007f, 0.1015f, -0.00225f},
                    1e-7,
                    1e-5,
                    "exp_avg");
            Close.assertClose(
                    opt.state().get("exp_avg_sq.weight").toFloatArray(),
                    new float[] {
                        0.00017232004f, 8.238005e-05f, 0.00045981014f, 0.00012991001f, 0.0037345022f, 2.894603e-06f
                    },
                    1e-9,
                    1e-5,
                    "exp_avg_sq");
        }
    }

    @Test
    void segmentedUpdateIsBitIdenticalToOneSegment() {
        assertArrayEquals(new int[] {0, 2, 3, 4}, AdamW.segments(new long[] {6, 2, 10, 7}, 10));
        assertArrayEquals(new int[] {0, 1}, AdamW.segments(new long[] {12}, 10), "a larger parameter alone");
        try (NDManager m = NDManager.newBaseManager()) {
            // parameters of 6, 2, 10 and 7 elements: segments of at most 10 are {6, 2}, {10}, {7}
            Map<String, Param> one = params();
            Map<String, Param> split = params();
            for (String k : one.keySet()) {
                NDArray init = m.randomNormal(one.get(k).shape());
                one.get(k).set(init.duplicate());
                split.get(k).set(init.duplicate());
            }
            AdamW whole = new AdamW(one, m, 1e-2, 0.9, 0.999, 1e-8, 0.1);
            AdamW parts = new AdamW(split, m, 1e-2, 0.9, 0.999, 1e-8, 0.1, 10);
            for (int step = 0; step < 3; step++) {
                try (NDManager scratch = m.newSubManager()) {
                    Map<String, NDArray> grads = new LinkedHashMap<>();
                    one.forEach((k, p) -> grads.put(k, scratch.randomNormal(p.shape())));
                    whole.step(grads, 0.5f, scratch);
                    parts.step(grads, 0.5f, scratch);
                }
            }
            for (String k : one.keySet()) {
                float[] expected = one.get(k).get().toFloatArray();
                assertArrayEquals(expected, split.get(k).get().toFloatArray(), k);
                assertNotEquals(0f, expected[0], k + " trained: not a vacuous comparison");
            }
            whole.state()
                    .forEach((k, v) -> assertArrayEquals(
                            v.toFloatArray(), parts.state().get(k).toFloatArray(), "moment " + k));
        }
    }

    private static Map<String, Param> params() {
        Linear a = new Linear(3, 2, true); // weight (2, 3), bias (2)
        Linear b = new Linear(5, 2, false); // weight (2, 5)
        Linear c = new Linear(1, 7, false); // weight (7, 1)
        Map<String, Param> out = new LinkedHashMap<>();
        out.put("a.weight", a.weight);
        out.put("a.bias", a.bias);
        out.put("b.weight", b.weight);
        out.put("c.weight", c.weight);
        return out;
    }

    @Test
    void clipGradNormScalesByTheGlobalNorm() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[] {3, 4});
            NDArray b = m.create(new float[] {1, 2, 2, 0}, new Shape(2, 2));
            double total = ClipGradNorm.clip(List.of(a, b), 1.0, m);
            assertEquals(5.8309517, total, 1e-6);
            Close.assertClose(a.toFloatArray(), new float[] {0.5144957304f, 0.6859942675f}, 1e-7, 1e-6, "a");
            Close.assertClose(
                    b.toFloatArray(), new float[] {0.17149857f, 0.34299713f, 0.34299713f, 0f}, 1e-7, 1e-6, "b");
            double small = ClipGradNorm.clip(List.of(a, b), 10.0, m);
            assertEquals(1.0, small, 1e-5);
            Close.assertClose(a.toFloatArray(), new float[] {0.5144957304f, 0.6859942675f}, 1e-7, 1e-6, "unclipped");
        }
    }
}
