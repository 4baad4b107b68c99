package io.animatediff.engine.schedulers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;

/** Element-wise |actual - expected| <= atol + rtol * |expected|, length first. */
final class Close {
    private Close() {}

    static void assertClose(double[] expected, double[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, "length");
        for (int i = 0; i < expected.length; i++) {
            double tol = atol + rtol * Math.abs(expected[i]);
            if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
                fail("element " + i + ": expected " + expected[i] + " got " + actual[i] + " (|diff| "
                        + Math.abs(actual[i] - expected[i]) + " > " + tol + ")");
            }
        }
    }

    static void assertClose(double expected, double actual, double atol, double rtol) {
        assertClose(new double[] {expected}, new double[] {actual}, atol, rtol);
    }

    static void assertClose(double[] expected, NDArray actual, double atol, double rtol) {
        float[] f = actual.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        assertClose(expected, d, atol, rtol);
    }
}
