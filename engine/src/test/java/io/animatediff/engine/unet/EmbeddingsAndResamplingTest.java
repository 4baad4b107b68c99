package io.animatediff.engine.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Param;
import org.junit.jupiter.api.Test;

/** Hand-computed golden numbers for the weightless pieces of the UNet. */
class EmbeddingsAndResamplingTest {

    @Test
    void timestepEmbeddingMatchesDiffusersGetTimestepEmbedding() {
        // dim 4, t = 1, flip_sin_to_cos, shift 0: freqs exp(-ln(1e4) * [0, 1] / 2) = [1, 0.01]
        // -> [cos 1, cos 0.01, sin 1, sin 0.01]
        try (NDManager m = NDManager.newBaseManager()) {
            float[] e = new Timesteps(4, true, 0)
                    .forward(m.create(new float[] {1f}))
                    .toFloatArray();
            assertArrayEquals(
                    new float[] {
                        (float) Math.cos(1), (float) Math.cos(0.01), (float) Math.sin(1), (float) Math.sin(0.01)
                    },
                    e,
                    1e-6f);
            float[] noFlip = new Timesteps(4, false, 1)
                    .forward(m.create(new float[] {2f}))
                    .toFloatArray();
            // shift 1: exponent -ln(1e4) * i / (2 - 1) -> freqs [1, 1e-4]
            assertArrayEquals(
                    new float[] {
                        (float) Math.sin(2), (float) Math.sin(2e-4), (float) Math.cos(2), (float) Math.cos(2e-4)
                    },
                    noFlip,
                    1e-6f);
        }
    }

    @Test
    void positionalTableIsTheOfficialSinusoid() {
        try (NDManager m = NDManager.newBaseManager()) {
            PositionalEncoding pe = new PositionalEncoding(4, 3);
            pe.computeBuffers(m);
            NDArray out = pe.forward(m.zeros(new Shape(1, 3, 4))); // zeros + pe[:, :3]
            float[] v = out.toFloatArray();
            // position 1: [sin(1), cos(1), sin(0.01), cos(0.01)]
            assertArrayEquals(
                    new float[] {
                        (float) Math.sin(1), (float) Math.cos(1), (float) Math.sin(0.01), (float) Math.cos(0.01)
                    },
                    java.util.Arrays.copyOfRange(v, 4, 8),
                    1e-6f);
            assertArrayEquals(new float[] {0, 1, 0, 1}, java.util.Arrays.copyOfRange(v, 0, 4), 1e-7f);
        }
    }

    @Test
    void upsampleIsNearestNeighbourThenConv() {
        try (NDManager m = NDManager.newBaseManager()) {
            Upsample2D up = new Upsample2D(1);
            identity(m, up.conv.weight, up.conv.bias);
            NDArray x = m.create(new float[] {1, 2, 3, 4}, new Shape(1, 1, 2, 2));
            NDArray y = up.forward(x, 4, 4);
            assertArrayEquals(new float[] {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, y.toFloatArray());
            // an odd skip size takes torch's nearest indices floor(i * in / out), i.e. cut the 2x grid
            NDArray odd = up.forward(x, 3, 3);
            assertArrayEquals(new float[] {1, 1, 2, 1, 1, 2, 3, 3, 4}, odd.toFloatArray());
        }
    }

    @Test
    void downsampleIsAStride2Conv() {
        try (NDManager m = NDManager.newBaseManager()) {
            Downsample2D down = new Downsample2D(1, 1);
            identity(m, down.conv.weight, down.conv.bias);
            NDArray x = m.arange(0f, 16f).reshape(1, 1, 4, 4);
            assertArrayEquals(new float[] {0, 2, 8, 10}, down.forward(x).toFloatArray());
            assertEquals(
                    new Shape(1, 1, 3, 3),
                    down.forward(m.zeros(new Shape(1, 1, 5, 5))).getShape());
        }
    }

    private static void identity(NDManager m, Param weight, Param bias) {
        float[] k = new float[9];
        k[4] = 1;
        weight.set(m.create(k, new Shape(1, 1, 3, 3)));
        bias.set(m.zeros(new Shape(1)));
    }
}
