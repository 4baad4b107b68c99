package io.animatediff.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.pipeline.ContextWindows.Fuse;
import io.animatediff.engine.pipeline.ContextWindows.Schedule;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Window schedules and blending weights, without a model. */
class ContextWindowsTest {

    private static void checkCoverageAndWeights(ContextWindows c, int frames, int steps) {
        for (int step = 0; step < steps; step++) {
            List<int[]> windows = c.windows(step, steps, frames);
            double[] total = new double[frames];
            double[][] share = c.normalizedWeights(windows, frames);
            for (int k = 0; k < windows.size(); k++) {
                int[] w = windows.get(k);
                assertTrue(w.length <= c.length(), "window longer than context_length");
                for (int j = 0; j < w.length; j++) {
                    assertTrue(w[j] >= 0 && w[j] < frames);
                    assertTrue(share[k][j] > 0);
                    total[w[j]] += share[k][j];
                }
            }
            for (int f = 0; f < frames; f++) {
                assertEquals(1.0, total[f], 1e-12, c + " frame " + f + " step " + step + ": weights sum to one");
            }
        }
    }

    @Test
    void uniformWindowsCoverEveryFrameAndWeightsSumToOne() {
        for (Fuse fuse : Fuse.values()) {
            for (int stride = 1; stride <= 3; stride++) {
                for (int frames : new int[] {1, 16, 17, 33, 48, 61}) {
                    checkCoverageAndWeights(
                            new ContextWindows(16, 4, stride, Schedule.UNIFORM, fuse, false), frames, 3);
                    checkCoverageAndWeights(new ContextWindows(16, 4, stride, Schedule.LOOPED, fuse, false), frames, 5);
                    checkCoverageAndWeights(new ContextWindows(16, 4, stride, Schedule.LOOPED, fuse, true), frames, 5);
                }
            }
        }
    }

    @Test
    void uniformPlacesWindowsEveryLengthMinusOverlapAndShiftsTheLast() {
        ContextWindows c = new ContextWindows(16, 4, 1, Schedule.UNIFORM, Fuse.PYRAMID, false);
        List<int[]> w = c.windows(0, 10, 48);
        assertEquals(4, w.size());
        int[] starts = w.stream().mapToInt(a -> a[0]).toArray();
        assertArrayEquals(new int[] {0, 12, 24, 32}, starts);
        assertEquals(47, w.get(3)[15]);
        // no overlap: disjoint consecutive windows
        List<int[]> disjoint = new ContextWindows(16, 0, 1, Schedule.UNIFORM, Fuse.FLAT, false).windows(0, 1, 32);
        assertEquals(2, disjoint.size());
        assertEquals(16, disjoint.get(1)[0]);
        // short videos: one window
        assertEquals(1, c.windows(0, 10, 16).size());
    }

    @Test
    void loopedClosedWindowsWrapFromTheLastFrameToTheFirst() {
        ContextWindows c = new ContextWindows(16, 4, 1, Schedule.LOOPED, Fuse.PYRAMID, true);
        boolean wraps = false;
        for (int[] w : c.windows(0, 10, 40)) {
            for (int j = 1; j < w.length; j++) {
                wraps |= w[j - 1] == 39 && w[j] == 0;
            }
        }
        assertTrue(wraps, "a closed loop has a window joining frame 39 to frame 0");
        // ordered halving moves the windows between steps
        assertFalse(c.windows(0, 10, 40).get(0)[0] == c.windows(1, 10, 40).get(0)[0]);
        assertEquals(0.5, ContextWindows.orderedHalving(1));
        assertEquals(0.25, ContextWindows.orderedHalving(2));
        assertEquals(0.75, ContextWindows.orderedHalving(3));
    }

    @Test
    void windowCountGrowsLinearlyInFrames() {
        ContextWindows c = ContextWindows.defaults();
        for (int frames = 17; frames <= 1024; frames += 37) {
            int bound = (int) Math.ceil((double) (frames - 4) / (16 - 4));
            assertTrue(
                    c.windows(0, 1, frames).size() <= bound,
                    frames + " frames: " + c.windows(0, 1, frames).size());
        }
        assertEquals(8, c.windows(0, 1, 96).size());
        assertEquals(4, c.windows(0, 1, 48).size());
    }

    @Test
    void pyramidWeights() {
        ContextWindows c = ContextWindows.defaults();
        assertArrayEquals(new double[] {1, 2, 3, 2, 1}, c.weights(5));
        assertArrayEquals(new double[] {1, 2, 2, 1}, c.weights(4));
        assertArrayEquals(
                new double[] {1, 1, 1}, new ContextWindows(16, 4, 1, Schedule.UNIFORM, Fuse.FLAT, false).weights(3));
    }

    @Test
    void badSettingsAreRefusedWithTheirNames() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> new ContextWindows(16, 16, 1, Schedule.UNIFORM, Fuse.PYRAMID, false));
        assertTrue(e.getMessage().contains("context_overlap"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> new ContextWindows(16, 4, 1, Schedule.UNIFORM, Fuse.PYRAMID, true));
        assertTrue(e.getMessage().contains("closed_loop"), e.getMessage());
        assertTrue(ContextWindows.problems(40, 4, 1, Schedule.UNIFORM, false, 32)
                .get(0)
                .contains("context_length"));
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("static"));
        assertEquals(Fuse.FLAT, Fuse.parse("flat"));
    }
}
