package io.animatediff.engine.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Picture;
import org.jcodec.common.model.Rect;
import org.junit.jupiter.api.Test;

class YCbCrTest {

    @Test
    void limitedRangeRoundTripLosesAtMostTwoLevels() {
        // 4x4 blocks of one colour. The inner 2x2 pixels of a block take their chroma from the block's
        // own 2x2 chroma samples only, so there only the 8-bit Y'CbCr quantisation remains (Y has 219
        // levels for 256, chroma 224); the outer ring blends in neighbouring blocks' chroma.
        int w = 64;
        int h = 64;
        int[] rgb = new int[w * h];
        Random random = new Random(3);
        for (int by = 0; by < h; by += 4) {
            for (int bx = 0; bx < w; bx += 4) {
                int colour = by == 0 && bx == 0 ? 0xFFFFFF : by == 0 && bx == 4 ? 0 : random.nextInt(0x1000000);
                for (int y = by; y < by + 4; y++) {
                    for (int x = bx; x < bx + 4; x++) {
                        rgb[y * w + x] = colour;
                    }
                }
            }
        }
        Frames frames = new Frames(1, w, h, rgb, 8);
        for (YCbCr.Matrix m : YCbCr.Matrix.values()) {
            Picture pic = Picture.create(w, h, ColorSpace.YUV420J);
            YCbCr.toYuv420(frames, 0, pic, m);
            assertEquals(235, pic.getPlaneData(0)[0] + 128, "white is Y 235 in limited range");
            assertEquals(16, pic.getPlaneData(0)[4] + 128, "black is Y 16 in limited range");
            assertEquals(128, pic.getPlaneData(1)[0] + 128, "grey has centred chroma");
            int[] back = new int[w * h];
            YCbCr.toRgb(pic, back, 0, m, false);
            int max = 0;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    boolean inner = (x % 4 == 1 || x % 4 == 2) && (y % 4 == 1 || y % 4 == 2);
                    if (inner) {
                        max = Math.max(max, TestVideos.channelDiff(rgb[y * w + x], back[y * w + x]));
                    }
                }
            }
            assertTrue(max <= 2, m + ": max channel error " + max);
            assertEquals(0xFFFFFF, back[w + 1], m + " white");
            assertEquals(0x000000, back[w + 5], m + " black");
        }
    }

    @Test
    void chromaIsUpsampledBilinearly() {
        // One chroma row 0, 40, 80, 120 (stored minus 128), Y mid grey, 8x2 picture, full range BT.601:
        // R = Y + 1.402 Cr. Luma column x sits at chroma position x/2 - 1/4, clamped at the edges.
        Picture pic = Picture.create(8, 2, ColorSpace.YUV420);
        java.util.Arrays.fill(pic.getPlaneData(0), (byte) 0); // Y 128
        java.util.Arrays.fill(pic.getPlaneData(1), (byte) 0);
        byte[] cr = pic.getPlaneData(2);
        for (int i = 0; i < 4; i++) {
            cr[i] = (byte) (40 * i);
        }
        int[] out = new int[16];
        YCbCr.toRgb(pic, out, 0, YCbCr.Matrix.BT601, true);
        double[] crAtX = {0, 10, 30, 50, 70, 90, 110, 120}; // 3/4 nearest + 1/4 neighbour
        for (int x = 0; x < 8; x++) {
            int expectedR = (int) Math.min(255, Math.round(128 + 1.402 * crAtX[x]));
            assertEquals(expectedR, (out[x] >> 16) & 0xFF, "R at x " + x);
            assertEquals(out[x], out[8 + x], "both rows share the chroma row");
        }
    }

    @Test
    void fullRangeBt601MatchesJpegFormula() {
        // JFIF: R = Y + 1.402 (Cr-128), G = Y - 0.344136 (Cb-128) - 0.714136 (Cr-128), B = Y + 1.772 (Cb-128).
        // Y 76, Cb 85, Cr 255 -> R 254.05, G 0.10, B -0.20 -> (254, 0, 0).
        Picture pic = Picture.create(2, 2, ColorSpace.YUV420);
        java.util.Arrays.fill(pic.getPlaneData(0), (byte) (76 - 128));
        pic.getPlaneData(1)[0] = (byte) (85 - 128);
        pic.getPlaneData(2)[0] = (byte) (255 - 128);
        int[] out = new int[4];
        YCbCr.toRgb(pic, out, 0, YCbCr.Matrix.BT601, true);
        assertEquals(0xFE0000, out[3]);
        // Limited range, BT.709: Y 16 + 219 * 0.5 = 125.5 -> 126 grey, centred chroma -> (128, 128, 128).
        java.util.Arrays.fill(pic.getPlaneData(0), (byte) (126 - 128));
        pic.getPlaneData(1)[0] = 0;
        pic.getPlaneData(2)[0] = 0;
        YCbCr.toRgb(pic, out, 0, YCbCr.Matrix.BT709, false);
        assertEquals(0x808080, out[0]);
    }

    @Test
    void readsOnlyTheCroppedArea() {
        Picture pic = Picture.createCropped(16, 16, ColorSpace.YUV420, new Rect(2, 4, 6, 8));
        byte[] y = pic.getPlaneData(0);
        for (int row = 0; row < 16; row++) {
            for (int x = 0; x < 16; x++) {
                y[row * 16 + x] = (byte) (row * 10 + x - 128); // full-range grey = row*10 + x
            }
        }
        java.util.Arrays.fill(pic.getPlaneData(1), (byte) 0);
        java.util.Arrays.fill(pic.getPlaneData(2), (byte) 0);
        int[] out = new int[6 * 8];
        YCbCr.toRgb(pic, out, 0, YCbCr.Matrix.BT601, true);
        int v = 4 * 10 + 2; // (row 4, x 2)
        assertEquals((v << 16) | (v << 8) | v, out[0]);
        v = 11 * 10 + 7; // last pixel (row 4+7, x 2+5)
        assertEquals((v << 16) | (v << 8) | v, out[47]);
    }
}
