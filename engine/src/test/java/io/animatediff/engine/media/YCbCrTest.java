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
        // 2x2 blocks of one colour, so 4:2:0 subsampling loses nothing and only the 8-bit Y'CbCr
        // quantisation remains (Y has 219 levels for 256, chroma 224).
        int w = 64;
        int h = 64;
        int[] rgb = new int[w * h];
        Random random = new Random(3);
        for (int by = 0; by < h; by += 2) {
            for (int bx = 0; bx < w; bx += 2) {
                int colour = random.nextInt(0x1000000);
                rgb[by * w + bx] = colour;
                rgb[by * w + bx + 1] = colour;
                rgb[(by + 1) * w + bx] = colour;
                rgb[(by + 1) * w + bx + 1] = colour;
            }
        }
        rgb[0] = rgb[1] = rgb[w] = rgb[w + 1] = 0xFFFFFF;
        rgb[2] = rgb[3] = rgb[w + 2] = rgb[w + 3] = 0x000000;
        Frames frames = new Frames(1, w, h, rgb, 8);
        for (YCbCr.Matrix m : YCbCr.Matrix.values()) {
            Picture pic = Picture.create(w, h, ColorSpace.YUV420J);
            YCbCr.toYuv420(frames, 0, pic, m);
            assertEquals(235, pic.getPlaneData(0)[0] + 128, "white is Y 235 in limited range");
            assertEquals(16, pic.getPlaneData(0)[2] + 128, "black is Y 16 in limited range");
            assertEquals(128, pic.getPlaneData(1)[0] + 128, "grey has centred chroma");
            int[] back = new int[w * h];
            YCbCr.toRgb(pic, back, 0, m, false);
            int max = 0;
            for (int i = 0; i < rgb.length; i++) {
                max = Math.max(max, TestVideos.channelDiff(rgb[i], back[i]));
            }
            assertTrue(max <= 2, m + ": max channel error " + max);
            assertEquals(0xFFFFFF, back[0], m + " white");
            assertEquals(0x000000, back[2], m + " black");
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
