package io.animatediff.engine.media;

import org.jcodec.common.model.Picture;

/**
 * Packed RGB <-> Y'CbCr 4:2:0 planes for H.264, with the matrix and range spelled out (ITU-T H.273):
 * Y' = Kr R + Kg G + Kb B, Cb = (B - Y') / (2 (1 - Kb)), Cr = (R - Y') / (2 (1 - Kr)); limited range
 * stores Y in [16, 235] and Cb, Cr in [16, 240], full range uses [0, 255]. JCodec keeps plane
 * samples as signed bytes, value - 128.
 */
final class YCbCr {
    private YCbCr() {}

    /** Luma coefficients of the matrices H.264 streams declare (VUI matrix_coefficients). */
    enum Matrix {
        /** matrix_coefficients 5/6: SD video and the default for unlabelled SD streams. */
        BT601(0.299, 0.114),
        /** matrix_coefficients 1: HD video; what our writer uses and declares. */
        BT709(0.2126, 0.0722),
        /** matrix_coefficients 9/10 (non-constant luminance). */
        BT2020(0.2627, 0.0593);

        final double kr;
        final double kb;
        final double kg;

        Matrix(double kr, double kb) {
            this.kr = kr;
            this.kb = kb;
            this.kg = 1 - kr - kb;
        }
    }

    /**
     * Writes frame {@code f} into {@code pic}'s three planes as limited-range Y'CbCr 4:2:0. The planes
     * may be larger than the frame (H.264 codes whole 16x16 macroblocks): the last row and column are
     * repeated into the padding. Chroma is the mean of each 2x2 block.
     */
    static void toYuv420(Frames frames, int f, Picture pic, Matrix m) {
        int w = frames.width();
        int h = frames.height();
        int[] rgb = frames.rgb();
        int base = frames.offset(f);
        byte[] yPlane = pic.getPlaneData(0);
        byte[] uPlane = pic.getPlaneData(1);
        byte[] vPlane = pic.getPlaneData(2);
        int yStride = pic.getPlaneWidth(0);
        int yRows = pic.getPlaneHeight(0);
        int cStride = pic.getPlaneWidth(1);
        int cRows = pic.getPlaneHeight(1);
        double yScale = 219.0 / 255.0;
        double cbScale = 224.0 / 255.0 / (2 * (1 - m.kb));
        double crScale = 224.0 / 255.0 / (2 * (1 - m.kr));

        for (int y = 0; y < yRows; y++) {
            int row = base + Math.min(y, h - 1) * w;
            for (int x = 0; x < yStride; x++) {
                int p = rgb[row + Math.min(x, w - 1)];
                double luma = m.kr * ((p >> 16) & 0xFF) + m.kg * ((p >> 8) & 0xFF) + m.kb * (p & 0xFF);
                yPlane[y * yStride + x] = sample(16 + yScale * luma);
            }
        }
        for (int cy = 0; cy < cRows; cy++) {
            int y0 = Math.min(2 * cy, h - 1);
            int y1 = Math.min(2 * cy + 1, h - 1);
            for (int cx = 0; cx < cStride; cx++) {
                int x0 = Math.min(2 * cx, w - 1);
                int x1 = Math.min(2 * cx + 1, w - 1);
                int p00 = rgb[base + y0 * w + x0];
                int p01 = rgb[base + y0 * w + x1];
                int p10 = rgb[base + y1 * w + x0];
                int p11 = rgb[base + y1 * w + x1];
                double r = (((p00 >> 16) & 0xFF) + ((p01 >> 16) & 0xFF) + ((p10 >> 16) & 0xFF) + ((p11 >> 16) & 0xFF))
                        / 4.0;
                double g =
                        (((p00 >> 8) & 0xFF) + ((p01 >> 8) & 0xFF) + ((p10 >> 8) & 0xFF) + ((p11 >> 8) & 0xFF)) / 4.0;
                double b = ((p00 & 0xFF) + (p01 & 0xFF) + (p10 & 0xFF) + (p11 & 0xFF)) / 4.0;
                double luma = m.kr * r + m.kg * g + m.kb * b;
                uPlane[cy * cStride + cx] = sample(128 + cbScale * (b - luma));
                vPlane[cy * cStride + cx] = sample(128 + crScale * (r - luma));
            }
        }
    }

    /**
     * Converts {@code pic}'s cropped area (Y'CbCr 4:2:0, 8 bit) to packed RGB at {@code dst[offset..]},
     * row-major (H, W). Chroma is upsampled bilinearly for samples centred on each 2x2 block (weights
     * 9/16, 3/16, 3/16, 1/16 from the nearest four, libjpeg's "fancy" upsampling), clamped at the
     * edges of the cropped area.
     */
    static void toRgb(Picture pic, int[] dst, int offset, Matrix m, boolean fullRange) {
        int x0 = pic.getStartX();
        int y0 = pic.getStartY();
        int w = pic.getCroppedWidth();
        int h = pic.getCroppedHeight();
        byte[] yPlane = pic.getPlaneData(0);
        byte[] uPlane = pic.getPlaneData(1);
        byte[] vPlane = pic.getPlaneData(2);
        int yStride = pic.getPlaneWidth(0);
        int cStride = pic.getPlaneWidth(1);
        int cxMin = x0 >> 1;
        int cxMax = (x0 + w - 1) >> 1;
        int cyMin = y0 >> 1;
        int cyMax = (y0 + h - 1) >> 1;
        // Per column: nearest chroma column and its horizontal neighbour (left for even x, right for odd).
        int[] near = new int[w];
        int[] side = new int[w];
        for (int x = 0; x < w; x++) {
            int sx = x0 + x;
            near[x] = sx >> 1;
            side[x] = Math.max(cxMin, Math.min(cxMax, (sx & 1) == 0 ? near[x] - 1 : near[x] + 1));
        }
        double yOffset = fullRange ? 0 : 16;
        double yScale = fullRange ? 1 : 255.0 / 219.0;
        double cScale = (fullRange ? 1 : 255.0 / 224.0) / 16; // folds in the 1/16 of the filter weights
        double crToR = 2 * (1 - m.kr);
        double cbToB = 2 * (1 - m.kb);
        double crToG = 2 * m.kr * (1 - m.kr) / m.kg;
        double cbToG = 2 * m.kb * (1 - m.kb) / m.kg;
        for (int y = 0; y < h; y++) {
            int sy = y0 + y;
            int rowNear = (sy >> 1) * cStride;
            int rowSide = Math.max(cyMin, Math.min(cyMax, (sy & 1) == 0 ? (sy >> 1) - 1 : (sy >> 1) + 1)) * cStride;
            for (int x = 0; x < w; x++) {
                int a = rowNear + near[x];
                int b = rowNear + side[x];
                int c = rowSide + near[x];
                int d = rowSide + side[x];
                // Stored samples are value - 128, i.e. already centred chroma.
                double cb = (9 * uPlane[a] + 3 * uPlane[b] + 3 * uPlane[c] + uPlane[d]) * cScale;
                double cr = (9 * vPlane[a] + 3 * vPlane[b] + 3 * vPlane[c] + vPlane[d]) * cScale;
                double luma = ((yPlane[sy * yStride + x0 + x] + 128) - yOffset) * yScale;
                int r = clamp(luma + crToR * cr);
                int g = clamp(luma - crToG * cr - cbToG * cb);
                int bl = clamp(luma + cbToB * cb);
                dst[offset + y * w + x] = (r << 16) | (g << 8) | bl;
            }
        }
    }

    /** Rounds to [0, 255] and stores JCodec's signed form (value - 128). */
    private static byte sample(double v) {
        return (byte) (clamp(v) - 128);
    }

    private static int clamp(double v) {
        long r = Math.round(v);
        return (int) Math.max(0, Math.min(255, r));
    }
}
