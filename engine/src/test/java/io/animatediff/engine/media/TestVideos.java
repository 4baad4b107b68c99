package io.animatediff.engine.media;

/** Synthetic animations for the codec tests. */
final class TestVideos {
    static final int BACKGROUND = 0x2040C0; // blue
    static final int SQUARE = 0xF0C020; // yellow

    private TestVideos() {}

    /**
     * A {@code side} x {@code side} square moving {@code step} pixels right per frame over a flat
     * background: two flat colours per frame, so GIF palettes hold them exactly.
     */
    static Frames movingSquare(int count, int width, int height, int side, int step, double fps) {
        int[] rgb = new int[count * width * height]; // (F, H, W)
        for (int f = 0; f < count; f++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    rgb[(f * height + y) * width + x] = inSquare(f, x, y, side, step, height) ? SQUARE : BACKGROUND;
                }
            }
        }
        return new Frames(count, width, height, rgb, fps);
    }

    /** Whether (x, y) of frame f lies in the square (top edge at height/4, left edge at f*step). */
    static boolean inSquare(int f, int x, int y, int side, int step, int height) {
        int left = f * step;
        int top = height / 4;
        return x >= left && x < left + side && y >= top && y < top + side;
    }

    /** Largest absolute channel difference between two packed RGB values. */
    static int channelDiff(int a, int b) {
        int d = 0;
        for (int shift = 0; shift <= 16; shift += 8) {
            d = Math.max(d, Math.abs(((a >> shift) & 0xFF) - ((b >> shift) & 0xFF)));
        }
        return d;
    }
}
