package io.animatediff.engine.media;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.Objects;

/**
 * A decoded animation: {@code count} frames of {@code width} x {@code height} pixels, each pixel a
 * packed {@code 0xRRGGBB} int (no alpha), frame-major: {@code rgb[(f * height + y) * width + x]},
 * i.e. (F, H, W). {@code fps} is the playback rate in frames per second (fractional rates allowed).
 *
 * <p>The record does not copy {@code rgb}: whoever builds a {@code Frames} hands the array over and
 * must not change it afterwards.
 */
public record Frames(int count, int width, int height, int[] rgb, double fps) {

    /** Validates sizes, the pixel array and the frame rate; errors name the offending values. */
    public Frames {
        if (count < 1 || width < 1 || height < 1) {
            throw new IllegalArgumentException(String.format(
                    "frames: count, width and height must all be >= 1, got count=%d width=%d height=%d",
                    count, width, height));
        }
        long pixels = (long) count * width * height;
        if (pixels > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(String.format(
                    "frames: %d frames of %dx%d = %d pixels exceed one Java array: use fewer or smaller frames",
                    count, width, height, pixels));
        }
        Objects.requireNonNull(rgb, "frames: rgb array is null");
        if (rgb.length != pixels) {
            throw new IllegalArgumentException(String.format(
                    "frames: rgb has %d values, expected count*height*width = %d*%d*%d = %d",
                    rgb.length, count, height, width, pixels));
        }
        for (int i = 0; i < rgb.length; i++) {
            if ((rgb[i] & 0xFF000000) != 0) {
                int f = i / (width * height);
                int y = (i / width) % height;
                int x = i % width;
                throw new IllegalArgumentException(String.format(
                        "frames: rgb[%d] (frame %d, y %d, x %d) = 0x%08X is not a packed 0xRRGGBB value:"
                                + " mask the alpha byte off (v & 0xFFFFFF)",
                        i, f, y, x, rgb[i]));
            }
        }
        if (!(fps > 0) || Double.isInfinite(fps)) {
            throw new IllegalArgumentException("frames: fps must be a finite number > 0, got " + fps);
        }
    }

    /**
     * Quantises float frames like diffusers' {@code numpy_to_pil}: each value is clamped to [0, 1],
     * multiplied by 255 in float32 and rounded half to even ({@code (x * 255).round()}).
     *
     * @param data (F, 3, H, W) RGB in [0, 1], frame-major; values outside are clamped, NaN is refused
     */
    public static Frames fromFloatCHW(float[] data, int frames, int height, int width, double fps) {
        Objects.requireNonNull(data, "frames: float data is null");
        long expected = (long) frames * 3 * height * width;
        if (frames < 1 || height < 1 || width < 1 || data.length != expected) {
            throw new IllegalArgumentException(String.format(
                    "frames: float data has %d values, expected (F, 3, H, W) = (%d, 3, %d, %d) = %d",
                    data.length, frames, height, width, expected));
        }
        int plane = height * width; // H*W
        int[] rgb = new int[frames * plane]; // (F, H, W)
        for (int f = 0; f < frames; f++) {
            int base = f * 3 * plane; // start of (f, 0, 0, 0)
            for (int p = 0; p < plane; p++) {
                int r = quantise(data, base + p, f, 0, p, width);
                int g = quantise(data, base + plane + p, f, 1, p, width);
                int b = quantise(data, base + 2 * plane + p, f, 2, p, width);
                rgb[f * plane + p] = (r << 16) | (g << 8) | b;
            }
        }
        return new Frames(frames, width, height, rgb, fps);
    }

    private static int quantise(float[] data, int index, int f, int c, int p, int width) {
        float v = data[index];
        if (Float.isNaN(v)) {
            throw new IllegalArgumentException(String.format(
                    "frames: value at (f %d, c %d, y %d, x %d) is NaN: the decoder produced non-finite"
                            + " values (check the VAE output / dtype)",
                    f, c, p / width, p % width));
        }
        float clamped = Math.max(0f, Math.min(1f, v));
        return (int) Math.rint(clamped * 255f);
    }

    /** The frames as (F, 3, H, W) floats in [0, 1] (value / 255). */
    public float[] toFloatCHW() {
        if (3L * count * width * height > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(String.format(
                    "frames: %d frames of %dx%d are too many values for one float array (F, 3, H, W):"
                            + " convert fewer frames at a time",
                    count, width, height));
        }
        int plane = height * width; // H*W
        float[] out = new float[count * 3 * plane]; // (F, 3, H, W)
        for (int f = 0; f < count; f++) {
            int base = f * 3 * plane;
            for (int p = 0; p < plane; p++) {
                int v = rgb[f * plane + p];
                out[base + p] = ((v >> 16) & 0xFF) / 255f;
                out[base + plane + p] = ((v >> 8) & 0xFF) / 255f;
                out[base + 2 * plane + p] = (v & 0xFF) / 255f;
            }
        }
        return out;
    }

    /** Frame {@code i} as a new {@link BufferedImage#TYPE_INT_RGB} image. */
    public BufferedImage frame(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("frames: frame " + i + " out of range [0, " + count + ")");
        }
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        image.setRGB(0, 0, width, height, rgb, i * width * height, width);
        return image;
    }

    /** Offset of frame {@code i}'s first pixel in {@link #rgb()}. */
    int offset(int i) {
        return i * width * height;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Frames other
                && count == other.count
                && width == other.width
                && height == other.height
                && Double.compare(fps, other.fps) == 0
                && Arrays.equals(rgb, other.rgb);
    }

    @Override
    public int hashCode() {
        return Objects.hash(count, width, height, fps, Arrays.hashCode(rgb));
    }

    @Override
    public String toString() {
        return "Frames[count=" + count + ", width=" + width + ", height=" + height + ", fps=" + fps + "]";
    }
}
