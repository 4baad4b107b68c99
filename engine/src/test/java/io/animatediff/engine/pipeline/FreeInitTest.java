package io.animatediff.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Test;

/**
 * FreeInit's filter and frequency mix against a numpy port of diffusers' FreeInitMixin
 * (_get_free_init_freq_filter, _apply_freq_filter with numpy.fft) on a (1, 2, 4, 6, 5) tensor.
 */
class FreeInitTest {
    private static final long[] SHAPE = {1, 2, 4, 6, 5};

    private static float[] x() {
        float[] v = new float[240];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.sin(0.37 * i + 0.1);
        }
        return v;
    }

    private static float[] noise() {
        float[] v = new float[240];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.cos(0.91 * i * i % 7.3);
        }
        return v;
    }

    private static FreeInit method(String m) {
        return new FreeInit(3, m, 4, 0.25, 0.25, false);
    }

    private static void close(double[] expected, float[] actual, int from, double atol, double rtol) {
        for (int i = 0; i < expected.length; i++) {
            double a = actual[from + i];
            if (!(Math.abs(a - expected[i]) <= atol + rtol * Math.abs(expected[i]))) {
                fail("element " + (from + i) + ": expected " + expected[i] + " got " + a);
            }
        }
    }

    @Test
    void filterMatchesDiffusers() {
        double[] butter = method("butterworth").lowPassFilter(4, 6, 5);
        close(
                new double[] {1.883800706536931e-07, 4.918943545817456e-07, 8.810469012132671e-07},
                toF(butter),
                0,
                1e-12,
                1e-5);
        assertEquals(0.8563314080238342, butter[(2 * 6 + 3) * 5 + 2], 1e-7);
        double[] gauss = method("gaussian").lowPassFilter(4, 6, 5);
        assertEquals(0.7261490225791931, gauss[(2 * 6 + 3) * 5 + 2], 1e-7);
        assertEquals(1.0, method("ideal").lowPassFilter(4, 6, 5)[(2 * 6 + 3) * 5 + 2]);
        assertEquals(0.0, method("ideal").lowPassFilter(4, 6, 5)[0]);
    }

    private static float[] toF(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    @Test
    void mixMatchesDiffusersForEachFilter() {
        check(
                "butterworth",
                new double[] {
                    0.8388634324073792,
                    0.40423649549484253,
                    -1.0611634254455566,
                    0.5115039348602295,
                    0.4552793502807617,
                    0.5052191019058228
                },
                new double[] {-0.6412399411201477, -0.30797189474105835, 0.6666136980056763, -1.014070749282837},
                6.129250526428223);
        check(
                "gaussian",
                new double[] {
                    0.8202981352806091,
                    0.44353216886520386,
                    -1.02683424949646,
                    0.487944632768631,
                    0.4073695242404938,
                    0.5479527711868286
                },
                new double[] {-0.5681229829788208, -0.26172229647636414, 0.6894190907478333, -0.9702521562576294},
                11.030502319335938);
        check(
                "ideal",
                new double[] {
                    0.39142337441444397,
                    0.6165921688079834,
                    -0.9766283631324768,
                    -0.059949517250061035,
                    -0.07277633249759674,
                    0.3327794075012207
                },
                new double[] {-0.39036262035369873, -0.3591685891151428, 0.4965658485889435, -0.643185555934906},
                0.7202553749084473);
    }

    private static void check(String m, double[] first6, double[] at100, double sum) {
        float[] mixed = method(m).mix(x(), noise(), SHAPE);
        assertEquals(240, mixed.length);
        close(first6, mixed, 0, 1e-5, 1e-5);
        close(at100, mixed, 100, 1e-5, 1e-5);
        double s = 0;
        for (float v : mixed) {
            s += v;
        }
        assertEquals(sum, s, 1e-4, m + " sum");
    }

    @Test
    void fastSamplingStepsAndValidation() {
        FreeInit fast = new FreeInit(3, "butterworth", 4, 0.25, 0.25, true);
        assertEquals(3, fast.stepsFor(0, 10));
        assertEquals(6, fast.stepsFor(1, 10));
        assertEquals(10, fast.stepsFor(2, 10));
        assertEquals(10, FreeInit.defaults(3).stepsFor(0, 10));
        assertThrows(IllegalArgumentException.class, () -> new FreeInit(0, "butterworth", 4, 0.25, 0.25, false));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> new FreeInit(3, "box", 4, 0.25, 0.25, false));
        assertFalse(e.getMessage().isBlank());
    }
}
