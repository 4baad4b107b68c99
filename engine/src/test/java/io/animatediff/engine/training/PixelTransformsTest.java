package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.animatediff.engine.media.Frames;
import org.junit.jupiter.api.Test;

/** Golden numbers from numpy ports of np.linspace(dtype=int) and torch's antialiased bilinear weights. */
class PixelTransformsTest {

    @Test
    void frameIndicesAreNumpyLinspaceTruncated() {
        // np.linspace(3, 3 + 29 - 1, 8, dtype=int), (0, 6, 8), (5, 16, 4)
        assertArrayEquals(new int[] {3, 7, 11, 15, 19, 23, 27, 31}, PixelTransforms.frameIndices(3, 29, 8));
        assertArrayEquals(new int[] {0, 0, 1, 2, 3, 4, 5, 6}, PixelTransforms.frameIndices(0, 7, 8));
        assertArrayEquals(new int[] {5, 8, 12, 16}, PixelTransforms.frameIndices(5, 12, 4));
        assertEquals(61, PixelTransforms.clipLength(200, 16, 4), "(16 - 1) * 4 + 1");
        assertEquals(40, PixelTransforms.clipLength(40, 16, 4), "a shorter video spans all its frames");
    }

    @Test
    void resizeKeepsTheAspectLikeTorchvision() {
        assertArrayEquals(new int[] {256, 341}, PixelTransforms.resizedSize(240, 320, 256));
        assertArrayEquals(new int[] {455, 256}, PixelTransforms.resizedSize(1280, 720, 256));
        assertArrayEquals(new int[] {32, 32}, PixelTransforms.resizedSize(40, 40, 32));
    }

    @Test
    void antialiasedBilinearWeightsMatchTorch() {
        float[] x = {0, 1, 4, 9, 16, 25};
        // python port of aten's _compute_indices_min_size_weights_aa (interp_size 2, align_corners False)
        assertClose(new double[] {0.375, 3.5555555555555554, 10.777777777777779, 21.625}, resample(x, 4));
        assertClose(new double[] {1.0, 7.0, 18.857142857142854}, resample(x, 3));
        assertClose(new double[] {0.0, 0.4, 1.0, 0.7, 0.5}, resample(new float[] {0, 1, 0.5f}, 5));
    }

    private static float[] resample(float[] row, int out) {
        return PixelTransforms.Weights.of(row.length, out).applyColumns(row, 1, row.length);
    }

    private static void assertClose(double[] expected, float[] actual) {
        float[] e = new float[expected.length];
        for (int i = 0; i < e.length; i++) {
            e[i] = (float) expected[i];
        }
        Close.assertClose(actual, e, 1e-6, 1e-6, "resampled row");
    }

    @Test
    void constantFramesStayConstantAndNormalise() {
        int w = 50;
        int h = 30;
        int[] rgb = new int[2 * w * h];
        java.util.Arrays.fill(rgb, 0xFF8000);
        float[] out = PixelTransforms.apply(new Frames(2, w, h, rgb, 8), new int[] {1, 0}, 16, true);
        assertEquals(2 * 3 * 16 * 16, out.length);
        float[] expected = {1f, (0x80 / 255f - 0.5f) / 0.5f, -1f};
        for (int i = 0; i < out.length; i++) {
            int c = (i / 256) % 3;
            assertEquals(expected[c], out[i], 1e-6, "channel " + c);
        }
    }

    @Test
    void flipMirrorsTheCentreCrop() {
        int w = 20; // resize to 16 keeps w - 16 = 0 after scaling: 20x20 -> 16x16, no crop offset to break symmetry
        int[] rgb = new int[w * w];
        for (int y = 0; y < w; y++) {
            for (int x = 0; x < w; x++) {
                rgb[y * w + x] = (x * 12) << 16 | (y * 12) << 8;
            }
        }
        Frames f = new Frames(1, w, w, rgb, 8);
        float[] plain = PixelTransforms.apply(f, new int[] {0}, 16, false);
        float[] flipped = PixelTransforms.apply(f, new int[] {0}, 16, true);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 16; y++) {
                for (int x = 0; x < 16; x++) {
                    assertEquals(
                            plain[(c * 16 + y) * 16 + x],
                            flipped[(c * 16 + y) * 16 + 15 - x],
                            1e-5,
                            "c" + c + " y" + y);
                }
            }
        }
    }
}
