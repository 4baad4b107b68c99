package io.animatediff.engine.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FramesTest {

    @Test
    void quantisesLikeDiffusersNumpyToPil() {
        // Golden values: numpy float32 (np.clip(v, 0, 1) * 255).round().astype(uint8), which rounds
        // half to even (127.5 -> 128, 76.5 -> 76, 2.5 -> 2).
        float[] values = {
            0f,
            1f,
            0.5f,
            -0.2f,
            1.7f,
            0.3f,
            0.7f,
            0.9f,
            0.1f,
            0.25f,
            0.75f,
            0.123456f,
            0.998f,
            0.002f,
            Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY,
            0.5f / 255,
            1.5f / 255,
            2.5f / 255,
            254.5f / 255
        };
        int[] expected = {0, 255, 128, 0, 255, 76, 178, 230, 26, 64, 191, 31, 254, 1, 255, 0, 0, 2, 2, 254};
        int n = values.length;
        // One frame, height 1, width n; R carries the values, G and B their mirror images.
        float[] chw = new float[3 * n];
        for (int x = 0; x < n; x++) {
            chw[x] = values[x];
            chw[n + x] = values[n - 1 - x];
            chw[2 * n + x] = values[x];
        }
        Frames frames = Frames.fromFloatCHW(chw, 1, 1, n, 8);
        for (int x = 0; x < n; x++) {
            int p = frames.rgb()[x];
            assertEquals(expected[x], (p >> 16) & 0xFF, "R at x " + x + " from " + values[x]);
            assertEquals(expected[n - 1 - x], (p >> 8) & 0xFF, "G at x " + x);
            assertEquals(expected[x], p & 0xFF, "B at x " + x);
        }
    }

    @Test
    void floatRoundTripWithinHalfAStep() {
        int f = 3;
        int h = 5;
        int w = 7;
        float[] data = new float[f * 3 * h * w]; // (F, 3, H, W)
        Random random = new Random(42);
        for (int i = 0; i < data.length; i++) {
            data[i] = random.nextFloat();
        }
        Frames frames = Frames.fromFloatCHW(data, f, h, w, 8);
        float[] back = frames.toFloatCHW();
        assertEquals(data.length, back.length);
        double maxDiff = 0;
        for (int i = 0; i < data.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(back[i] - data[i]));
        }
        // Rounding to the nearest of 256 levels: |a - b| <= 0.5/255 (+ float rounding slack).
        assertTrue(maxDiff <= 0.5 / 255 + 1e-6, "max |roundtrip - input| = " + maxDiff);
        assertTrue(maxDiff > 0, "random data must actually be quantised");
        // Layout: (F, 3, H, W) -> packed (F, H, W).
        int fi = 2;
        int y = 4;
        int x = 6;
        int p = frames.rgb()[(fi * h + y) * w + x];
        assertEquals(Math.rint(data[((fi * 3 + 1) * h + y) * w + x] * 255f), (p >> 8) & 0xFF);
        // Quantised values round-trip exactly.
        assertArrayEquals(frames.rgb(), Frames.fromFloatCHW(back, f, h, w, 8).rgb());
    }

    @Test
    void frameImageHoldsTheFramePixels() {
        Frames frames = TestVideos.movingSquare(3, 20, 12, 4, 3, 8);
        BufferedImage image = frames.frame(2);
        assertEquals(BufferedImage.TYPE_INT_RGB, image.getType());
        assertEquals(20, image.getWidth());
        assertEquals(12, image.getHeight());
        int[] pixels = image.getRGB(0, 0, 20, 12, null, 0, 20);
        for (int i = 0; i < pixels.length; i++) {
            assertEquals(frames.rgb()[2 * 20 * 12 + i], pixels[i] & 0xFFFFFF, "pixel " + i);
        }
        assertThrows(IndexOutOfBoundsException.class, () -> frames.frame(3));
    }

    @Test
    void refusesInconsistentInputWithClearErrors() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> new Frames(2, 4, 4, new int[31], 8));
        assertTrue(
                e.getMessage().contains("rgb has 31 values, expected count*height*width = 2*4*4 = 32"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Frames(0, 4, 4, new int[0], 8));
        assertTrue(e.getMessage().contains("count=0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Frames(1, 2, 2, new int[4], 0));
        assertTrue(e.getMessage().contains("fps must be a finite number > 0, got 0.0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Frames(1, 2, 2, new int[4], Double.NaN));
        int[] alpha = new int[4];
        alpha[3] = 0xFF102030;
        e = assertThrows(IllegalArgumentException.class, () -> new Frames(1, 2, 2, alpha, 8));
        assertTrue(e.getMessage().contains("rgb[3] (frame 0, y 1, x 1) = 0xFF102030"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Frames.fromFloatCHW(new float[10], 1, 2, 2, 8));
        assertTrue(e.getMessage().contains("expected (F, 3, H, W) = (1, 3, 2, 2) = 12"), e.getMessage());
        float[] nan = new float[12];
        nan[5] = Float.NaN; // (f 0, c 1, y 0, x 1)
        e = assertThrows(IllegalArgumentException.class, () -> Frames.fromFloatCHW(nan, 1, 2, 2, 8));
        assertTrue(e.getMessage().contains("(f 0, c 1, y 0, x 1) is NaN"), e.getMessage());
    }

    @Test
    void equalityComparesPixels() {
        Frames a = TestVideos.movingSquare(2, 8, 8, 2, 1, 8);
        Frames b = TestVideos.movingSquare(2, 8, 8, 2, 1, 8);
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertEquals("Frames[count=2, width=8, height=8, fps=8.0]", a.toString());
    }
}
