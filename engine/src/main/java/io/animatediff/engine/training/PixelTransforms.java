package io.animatediff.engine.training;

import io.animatediff.engine.media.Frames;

/**
 * Ports the clip sampling of animatediff.data.dataset.WebVid10M: {@code get_batch}'s frame indices
 * (F frames spread over at most (F - 1) * stride + 1 source frames from a random start, as
 * {@code np.linspace(start, start + clip_length - 1, F, dtype=int)}) and {@code pixel_transforms}:
 * RandomHorizontalFlip, Resize(S) of the short side (torchvision's antialiased bilinear on float
 * tensors), CenterCrop(S), Normalize(0.5, 0.5) to [-1, 1].
 */
public final class PixelTransforms {
    private PixelTransforms() {}

    /** Source frames the clip spans: min(length, (F - 1) * stride + 1). */
    public static int clipLength(int videoLength, int frames, int stride) {
        long want = (long) (frames - 1) * stride + 1;
        return (int) Math.min(videoLength, want);
    }

    /** The F source-frame indices of a clip starting at {@code start}, spanning {@code clipLength} frames. */
    public static int[] frameIndices(int start, int clipLength, int frames) {
        int[] out = new int[frames];
        double stop = start + clipLength - 1;
        if (frames == 1) {
            out[0] = start;
            return out;
        }
        double step = (stop - start) / (frames - 1);
        for (int i = 0; i < frames; i++) {
            double v = i == frames - 1 ? stop : start + i * step; // numpy sets the endpoint exactly
            out[i] = (int) v; // dtype=int truncates
        }
        return out;
    }

    /** torchvision's Resize(size) output for an image h x w: the short side becomes size, (h', w'). */
    public static int[] resizedSize(int height, int width, int size) {
        if (width <= height) {
            return new int[] {(int) ((double) size * height / width), size};
        }
        return new int[] {size, (int) ((double) size * width / height)};
    }

    /**
     * The clip as (F, 3, S, S) floats in [-1, 1]: frames {@code indices} of {@code video}, flipped left
     * to right if {@code flip}, short side resized to S, centre-cropped to S x S, normalised.
     */
    public static float[] apply(Frames video, int[] indices, int size, boolean flip) {
        int h = video.height();
        int w = video.width();
        int[] rs = resizedSize(h, w, size);
        int rh = rs[0];
        int rw = rs[1];
        // torchvision F.center_crop: offsets int(round((h - S) / 2.0)), Python rounding half to even
        int top = (int) Math.rint((rh - size) / 2.0);
        int left = (int) Math.rint((rw - size) / 2.0);
        Weights horizontal = Weights.of(w, rw);
        Weights vertical = Weights.of(h, rh);
        int plane = size * size;
        float[] out = new float[indices.length * 3 * plane]; // (F, 3, S, S)
        float[] channel = new float[h * w];
        for (int f = 0; f < indices.length; f++) {
            int idx = indices[f];
            if (idx < 0 || idx >= video.count()) {
                throw new IllegalArgumentException(
                        "frame index " + idx + " outside the video's " + video.count() + " frames");
            }
            int offset = idx * h * w;
            for (int c = 0; c < 3; c++) {
                int shift = 16 - 8 * c;
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int sx = flip ? w - 1 - x : x;
                        channel[y * w + x] = ((video.rgb()[offset + y * w + sx] >> shift) & 0xFF) / 255f;
                    }
                }
                float[] resized = vertical.applyRows(horizontal.applyColumns(channel, h, w), rw); // (rh, rw)
                int base = (f * 3 + c) * plane;
                for (int y = 0; y < size; y++) {
                    for (int x = 0; x < size; x++) {
                        out[base + y * size + x] = (resized[(y + top) * rw + x + left] - 0.5f) / 0.5f;
                    }
                }
            }
        }
        return out;
    }

    /**
     * One axis of torch's antialiased bilinear interpolation (aten UpSampleKernel
     * {@code _compute_indices_min_size_weights_aa}, align_corners false): output i takes input
     * [min_i, min_i + size_i) with triangle weights widened by the scale when shrinking, normalised.
     */
    record Weights(int inSize, int outSize, int[] min, int[] count, double[][] weights) {
        static Weights of(int in, int out) {
            double scale = (double) in / out;
            double support = scale >= 1.0 ? scale : 1.0; // interp_size 2 -> half-width 1, widened by scale
            double invScale = scale >= 1.0 ? 1.0 / scale : 1.0;
            int[] min = new int[out];
            int[] count = new int[out];
            double[][] weights = new double[out][];
            for (int i = 0; i < out; i++) {
                double center = scale * (i + 0.5);
                int lo = Math.max((int) (center - support + 0.5), 0);
                int n = Math.min((int) (center + support + 0.5), in) - lo;
                double[] w = new double[Math.max(n, 0)];
                double total = 0;
                for (int j = 0; j < w.length; j++) {
                    double d = Math.abs((j + lo - center + 0.5) * invScale);
                    w[j] = d < 1.0 ? 1.0 - d : 0.0;
                    total += w[j];
                }
                for (int j = 0; j < w.length; j++) {
                    w[j] = total != 0 ? w[j] / total : 0.0;
                }
                min[i] = lo;
                count[i] = w.length;
                weights[i] = w;
            }
            return new Weights(in, out, min, count, weights);
        }

        /** Resamples the columns axis of (h, inSize) -> (h, outSize). */
        float[] applyColumns(float[] src, int h, int w) {
            float[] dst = new float[h * outSize];
            for (int y = 0; y < h; y++) {
                for (int i = 0; i < outSize; i++) {
                    double acc = 0;
                    double[] wt = weights[i];
                    for (int j = 0; j < wt.length; j++) {
                        acc += wt[j] * src[y * w + min[i] + j];
                    }
                    dst[y * outSize + i] = (float) acc;
                }
            }
            return dst;
        }

        /** Resamples the rows axis of (inSize, w) -> (outSize, w). */
        float[] applyRows(float[] src, int w) {
            float[] dst = new float[outSize * w];
            for (int i = 0; i < outSize; i++) {
                double[] wt = weights[i];
                for (int x = 0; x < w; x++) {
                    double acc = 0;
                    for (int j = 0; j < wt.length; j++) {
                        acc += wt[j] * src[(min[i] + j) * w + x];
                    }
                    dst[i * w + x] = (float) acc;
                }
            }
            return dst;
        }
    }
}
