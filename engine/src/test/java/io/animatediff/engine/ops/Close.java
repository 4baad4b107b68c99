package io.animatediff.engine.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;

/** Test comparison: shapes first, then |a - b| <= atol + rtol * |b| element-wise, never vacuous. */
final class Close {
    private Close() {}

    static void assertClose(NDArray actual, NDArray expected, double atol, double rtol, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what + ": shape");
        float[] a = actual.toFloatArray();
        float[] b = expected.toFloatArray();
        double norm = 0;
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < a.length; i++) {
            norm += Math.abs(b[i]);
            double excess = Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i]));
            if (!(excess <= 0) && (worstAt < 0 || excess > worst || Double.isNaN(excess))) {
                worst = excess;
                worstAt = i;
            }
        }
        assertTrue(norm > 0, what + ": the expected values are all zero, the comparison would be vacuous");
        if (worstAt >= 0) {
            throw new AssertionError(String.format(
                    "%s: element %d is %s, expected %s (atol %g, rtol %g)",
                    what, worstAt, a[worstAt], b[worstAt], atol, rtol));
        }
    }

    static double maxAbsDiff(NDArray a, NDArray b) {
        float[] x = a.toFloatArray();
        float[] y = b.toFloatArray();
        double max = 0;
        for (int i = 0; i < x.length; i++) {
            max = Math.max(max, Math.abs(x[i] - y[i]));
        }
        return max;
    }
}
