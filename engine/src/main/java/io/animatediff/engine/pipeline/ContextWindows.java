package io.animatediff.engine.pipeline;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Sliding context windows over the frame axis, so a motion module limited to L positions animates
 * any number of frames N: every denoising step runs the UNet once per window of at most L frames
 * and blends the overlapping predictions. Ports the "uniform" schedule of
 * animatediff-cli-prompt-travel (animatediff/pipelines/context.py, the schedule ComfyUI-AnimateDiff-
 * Evolved calls "uniform looped") and Evolved's "uniform standard" schedule and pyramid/flat fuse
 * methods (animatediff/context.py).
 *
 * <p>Schedules:
 *
 * <pre>
 * UNIFORM  windows of L consecutive frames starting every L - overlap frames; the last window is
 *          shifted back to end at frame N - 1 (no wrap-around); the same windows every step.
 *          stride s > 1 adds windows over every 2nd, 4th, ... 2^(s-1)-th frame.
 * LOOPED   prompt-travel's uniform(): windows wrap modulo N and are offset per step by
 *          ordered_halving(step), so frame N - 1 is a neighbour of frame 0; closedLoop also wraps
 *          the last window fully around (seamless loops).
 * </pre>
 *
 * @param length frames per window (L), at most the motion module's positional limit
 * @param overlap frames shared by consecutive windows, in [0, L)
 * @param stride number of dilation levels (1 = consecutive frames only)
 * @param schedule how windows are placed
 * @param fuse how overlapping predictions are weighted
 * @param closedLoop LOOPED only: the last window wraps to the first frames
 */
public record ContextWindows(int length, int overlap, int stride, Schedule schedule, Fuse fuse, boolean closedLoop) {

    /** Window placement. */
    public enum Schedule {
        UNIFORM,
        LOOPED;

        public static Schedule parse(String s) {
            for (Schedule v : values()) {
                if (v.name().equalsIgnoreCase(s)) {
                    return v;
                }
            }
            throw new IllegalArgumentException(
                    "context_schedule \"" + s + "\" is unknown: use \"uniform\" or \"looped\"");
        }

        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Weights of a window's frames when predictions overlap. */
    public enum Fuse {
        /** 1, 2, ..., L/2, L/2, ..., 1: a window's edges count least (Evolved's default). */
        PYRAMID,
        /** every frame 1: a plain average. */
        FLAT;

        public static Fuse parse(String s) {
            for (Fuse v : values()) {
                if (v.name().equalsIgnoreCase(s)) {
                    return v;
                }
            }
            throw new IllegalArgumentException(
                    "context_weighting \"" + s + "\" is unknown: use \"pyramid\" or \"flat\"");
        }

        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public ContextWindows {
        List<String> p = problems(length, overlap, stride, schedule, closedLoop, Integer.MAX_VALUE);
        if (!p.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", p));
        }
    }

    /** The usual settings: 16 frames, overlap 4, stride 1, uniform, pyramid. */
    public static ContextWindows defaults() {
        return new ContextWindows(16, 4, 1, Schedule.UNIFORM, Fuse.PYRAMID, false);
    }

    /** Every problem with these settings for a module of {@code maxFrames} positions. */
    public static List<String> problems(
            int length, int overlap, int stride, Schedule schedule, boolean closedLoop, int maxFrames) {
        List<String> p = new ArrayList<>();
        if (length < 1 || length > maxFrames) {
            p.add("context_length: " + length + " is outside [1, " + maxFrames + "]: the motion module encodes at most "
                    + maxFrames + " positions");
        }
        if (overlap < 0 || overlap >= Math.max(length, 1)) {
            p.add("context_overlap: " + overlap + " must lie in [0, context_length - 1 = " + (length - 1) + "]");
        }
        if (stride < 1 || stride > 8) {
            p.add("context_stride: " + stride + " is outside [1, 8]");
        }
        if (closedLoop && schedule != Schedule.LOOPED) {
            p.add(
                    "closed_loop: needs context_schedule \"looped\" (windows must wrap from the last frame to the first)");
        }
        return p;
    }

    /**
     * The windows of denoising step {@code step} of {@code numSteps} for {@code numFrames} frames:
     * each an array of frame indices in temporal order, every frame covered at least once, none
     * longer than {@link #length()}. N <= L gives the single window 0..N-1.
     */
    public List<int[]> windows(int step, int numSteps, int numFrames) {
        if (numFrames <= length) {
            return List.of(range(0, numFrames, 1, numFrames));
        }
        int levels = Math.min(stride, (int) Math.ceil(log2((double) numFrames / length)) + 1);
        Set<List<Integer>> seen = new LinkedHashSet<>();
        List<int[]> out = new ArrayList<>();
        for (int level = 0; level < levels; level++) {
            int dilation = 1 << level;
            if (schedule == Schedule.LOOPED) {
                if (length * dilation > numFrames) {
                    continue; // a wrapped window would hold a frame twice
                }
                // prompt-travel uniform(): offset by ordered_halving(step), indices modulo N
                double h = orderedHalving(step);
                int pad = (int) Math.round(numFrames * h);
                int start = (int) (h * dilation) + pad;
                int end = numFrames + pad + (closedLoop ? 0 : -overlap);
                int delta = length * dilation - overlap;
                for (int j = start; j < end; j += delta) {
                    add(out, seen, range(j, length, dilation, numFrames));
                }
            } else {
                int span = (length - 1) * dilation + 1;
                if (span > numFrames) {
                    continue;
                }
                int delta = Math.max(1, length * dilation - overlap);
                for (int first = 0; first < dilation; first++) {
                    for (int j = first; ; j += delta) {
                        if (j + span >= numFrames) {
                            add(out, seen, range(numFrames - span, length, dilation, numFrames));
                            break;
                        }
                        add(out, seen, range(j, length, dilation, numFrames));
                    }
                }
            }
        }
        return out;
    }

    /** The fuse weights of one window of {@code n} frames (Evolved's create_weights_pyramid / flat). */
    public double[] weights(int n) {
        double[] w = new double[n];
        for (int i = 0; i < n; i++) {
            w[i] = fuse == Fuse.FLAT ? 1.0 : Math.min(i + 1, n - i);
        }
        return w;
    }

    /**
     * The normalised weight of every (window, frame) pair of one step: entry [k][j] is window k's
     * share of frame windows.get(k)[j]; for every frame the shares sum to one.
     */
    public double[][] normalizedWeights(List<int[]> windows, int numFrames) {
        double[] total = new double[numFrames];
        for (int[] win : windows) {
            double[] w = weights(win.length);
            for (int j = 0; j < win.length; j++) {
                total[win[j]] += w[j];
            }
        }
        double[][] out = new double[windows.size()][];
        for (int k = 0; k < windows.size(); k++) {
            int[] win = windows.get(k);
            double[] w = weights(win.length);
            out[k] = new double[win.length];
            for (int j = 0; j < win.length; j++) {
                out[k][j] = w[j] / total[win[j]];
            }
        }
        return out;
    }

    /** prompt-travel's ordered_halving: the bit-reversed 64-bit step as a fraction in [0, 1). */
    static double orderedHalving(int step) {
        long reversed = Long.reverse(step);
        // as_int / 2^64 with as_int unsigned
        double unsigned = (reversed >>> 1) * 2.0 + (reversed & 1);
        return unsigned / 18446744073709551616.0;
    }

    private static void add(List<int[]> out, Set<List<Integer>> seen, int[] window) {
        List<Integer> key = new ArrayList<>();
        for (int i : window) {
            key.add(i);
        }
        if (seen.add(key)) {
            out.add(window);
        }
    }

    private static int[] range(int start, int count, int step, int modulo) {
        int[] r = new int[count];
        for (int i = 0; i < count; i++) {
            r[i] = Math.floorMod(start + i * step, modulo);
        }
        return r;
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }
}
