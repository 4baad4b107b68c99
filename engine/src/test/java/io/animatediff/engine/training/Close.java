package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Test comparison: sizes first, then |a - b| <= atol + rtol * |b| element-wise, never vacuous. */
final class Close {
    private Close() {}

    static void assertClose(float[] actual, float[] expected, double atol, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + ": size");
        double norm = 0;
        for (int i = 0; i < actual.length; i++) {
            norm += Math.abs(expected[i]);
            double bound = atol + rtol * Math.abs(expected[i]);
            if (!(Math.abs(actual[i] - expected[i]) <= bound)) {
                throw new AssertionError(String.format(
                        "%s: element %d is %s, expected %s (atol %g, rtol %g)",
                        what, i, actual[i], expected[i], atol, rtol));
            }
        }
        assertTrue(norm > 0, what + ": the expected values are all zero, the comparison would be vacuous");
    }

    static void assertClose(double[] actual, double[] expected, double atol, double rtol, String what) {
        float[] a = new float[actual.length];
        float[] b = new float[expected.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) actual[i];
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) expected[i];
        }
        assertClose(a, b, atol, rtol, what);
    }
}
