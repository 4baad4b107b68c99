package io.animatediff.engine.schedulers;

import static io.animatediff.engine.schedulers.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Golden numbers: "diffusers" ones are copied from diffusers tests/schedulers/test_scheduler_ddim.py;
 * the others were derived by porting scheduling_ddim.py line by line to numpy with torch's float32
 * arithmetic (float32 linspace/cumprod, float32 scalars); that port also reproduces every diffusers
 * test number below.
 */
class DDIMSchedulerTest {
    /** diffusers' DDIM test config: betas 0.0001..0.02 "linear", clip_sample true. */
    private static final Map<String, Object> DIFFUSERS_TEST =
            Map.of("beta_start", 0.0001, "beta_end", 0.02, "beta_schedule", "linear", "clip_sample", true);

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private static DDIMScheduler ddim(SchedulerConfig cfg, double eta, int steps) {
        DDIMScheduler s = new DDIMScheduler(cfg, eta);
        s.setTimesteps(steps);
        return s;
    }

    @Test
    void leadingWithStepsOffsetMatchesDiffusers() {
        // diffusers test_steps_offset
        DDIMScheduler s = ddim(Fixtures.sd(DIFFUSERS_TEST).with(Map.of("steps_offset", 1)), 0, 5);
        assertArrayEquals(new int[] {801, 601, 401, 201, 1}, s.timesteps());
        assertArrayEquals(new double[] {801, 601, 401, 201, 1}, s.modelTimesteps());
    }

    @Test
    void animateDiffTwentyFiveSteps() {
        DDIMScheduler s = ddim(SchedulerConfig.animateDiffDefault(), 0, 25);
        assertArrayEquals(
                new int[] {
                    961, 921, 881, 841, 801, 761, 721, 681, 641, 601, 561, 521, 481, 441, 401, 361, 321, 281, 241, 201,
                    161, 121, 81, 41, 1
                },
                s.timesteps());
        assertEquals("leading", s.config().timestepSpacing());
        assertEquals(1.0, s.initNoiseSigma());
    }

    @Test
    void linspaceAndTrailingSpacings() {
        assertArrayEquals(
                new int[] {999, 888, 777, 666, 555, 444, 333, 222, 111, 0},
                ddim(Fixtures.ad(Map.of("timestep_spacing", "linspace")), 0, 10).timesteps());
        // numpy rounds half to even: 499.5 -> 500
        assertArrayEquals(
                new int[] {999, 500, 0},
                ddim(Fixtures.ad(Map.of("timestep_spacing", "linspace")), 0, 3).timesteps());
        SchedulerConfig trailing = Fixtures.ad(Map.of("timestep_spacing", "trailing"));
        assertArrayEquals(new int[] {999, 749, 499, 249}, ddim(trailing, 0, 4).timesteps());
        assertArrayEquals(
                new int[] {999, 856, 713, 570, 428, 285, 142},
                ddim(trailing, 0, 7).timesteps());
        // numpy.arange gives 62 values for 61 steps (the 62nd becomes timestep -1); we keep 61
        int[] t61 = ddim(trailing, 0, 61).timesteps();
        assertEquals(61, t61.length);
        assertArrayEquals(new int[] {999, 983, 966}, java.util.Arrays.copyOfRange(t61, 0, 3));
        assertArrayEquals(new int[] {32, 15}, java.util.Arrays.copyOfRange(t61, 59, 61));
    }

    @Test
    void alphasCumprodOfEveryBetaSchedule() {
        // indices 0, 1, 499, 500, 998, 999
        double[][] expected = {
            {
                0.9991499781608582,
                0.9982895255088806,
                0.1618121713399887,
                0.16077162325382233,
                0.0015981404576450586,
                0.0015789626631885767
            },
            {
                0.9991499781608582,
                0.9982960224151611,
                0.27766942977905273,
                0.27633246779441833,
                0.004716695751994848,
                0.00466009508818388
            },
            {
                0.9999586939811707,
                0.9999125599861145,
                0.4938434660434723,
                0.4922850430011749,
                2.428766265438753e-06,
                2.4287349909002387e-09
            },
            {
                0.9991499781608582,
                0.9982334971427917,
                0.2423589825630188,
                0.24101853370666504,
                1.9679627882851491e-07,
                0.0
            },
        };
        SchedulerConfig[] configs = {
            SchedulerConfig.animateDiffDefault(),
            SchedulerConfig.defaults(),
            Fixtures.sd(Map.of("beta_schedule", "squaredcos_cap_v2")),
            Fixtures.sd(Map.of("rescale_betas_zero_snr", true)),
        };
        int[] at = {0, 1, 499, 500, 998, 999};
        for (int c = 0; c < configs.length; c++) {
            double[] acp = new DDIMScheduler(configs[c], 0).alphasCumprod();
            double[] picked = new double[at.length];
            for (int i = 0; i < at.length; i++) {
                picked[i] = acp[at[i]];
            }
            assertClose(expected[c], picked, 0, 1e-7); // float64 math would be ~8e-7 off
        }
    }

    @Test
    void varianceMatchesDiffusers() {
        // diffusers test_variance (tolerance 1e-5)
        DDIMScheduler s = new DDIMScheduler(Fixtures.sd(DIFFUSERS_TEST), 0);
        assertClose(0.0, s.variance(0, 0), 1e-5, 0);
        assertClose(0.14771, s.variance(420, 400), 1e-5, 0);
        assertClose(0.32460, s.variance(980, 960), 1e-5, 0);
        assertClose(0.00979, s.variance(487, 486), 1e-5, 0);
        assertClose(0.02, s.variance(999, 998), 1e-5, 0);
    }

    @Test
    void epsilonStepFirstAndLast() {
        DDIMScheduler s = ddim(SchedulerConfig.animateDiffDefault(), 0, 25);
        NDArray x = Fixtures.x(manager);
        NDArray eps = manager.full(x.getShape(), 0.3f);
        assertClose(
                new double[] {
                    -1.3337903022766113,
                    -1.1053049564361572,
                    -0.8768196105957031,
                    -0.6483343243598938,
                    -0.4198489189147949,
                    -0.19136366248130798,
                    0.037121713161468506,
                    0.2656070291996002,
                    0.4940923750400543,
                    0.722577691078186,
                    0.9510630369186401,
                    1.1795483827590942
                },
                s.step(eps, 0, x, null),
                1e-6,
                1e-6);
        assertClose(
                new double[] {
                    -1.0132744312286377,
                    -0.8313004374504089,
                    -0.6493265628814697,
                    -0.4673527181148529,
                    -0.2853788137435913,
                    -0.1034049317240715,
                    0.0785689577460289,
                    0.2605428397655487,
                    0.4425167441368103,
                    0.6244906187057495,
                    0.8064644932746887,
                    0.9884383678436279
                },
                s.step(eps, 24, x, null),
                1e-6,
                1e-6);
    }

    @Test
    void lastStepWithoutSetAlphaToOneUsesAlphaBarZero() {
        DDIMScheduler s = ddim(Fixtures.ad(Map.of("set_alpha_to_one", false)), 0, 25);
        NDArray x = Fixtures.x(manager);
        assertClose(
                new double[] {
                    -1.0040972232818604,
                    -0.8222004771232605,
                    -0.6403039693832397,
                    -0.45840752124786377,
                    -0.27651095390319824,
                    -0.0946144312620163,
                    0.08728209882974625,
                    0.2691786289215088,
                    0.45107516646385193,
                    0.6329717040061951,
                    0.8148682117462158,
                    0.9967647194862366
                },
                s.step(manager.full(x.getShape(), 0.3f), 24, x, null),
                1e-6,
                1e-6);
    }

    @Test
    void stochasticStepUsesTheGivenNoise() {
        DDIMScheduler s = ddim(SchedulerConfig.animateDiffDefault(), 0.7, 25);
        NDArray x = Fixtures.x(manager);
        NDArray eps = manager.full(x.getShape(), 0.3f);
        assertClose(
                new double[] {
                    -1.1148686408996582,
                    -0.9326989650726318,
                    -0.7505292892456055,
                    -0.5683596730232239,
                    -0.3861900568008423,
                    -0.20402038097381592,
                    -0.021850764751434326,
                    0.16031888127326965,
                    0.34248852729797363,
                    0.5246580839157104,
                    0.706827700138092,
                    0.8889974355697632
                },
                s.step(eps, 3, x, Fixtures.z(manager)),
                1e-6,
                1e-6);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.step(eps, 3, x, null));
        assertTrue(e.getMessage().contains("eta = 0.7"), e.getMessage());
    }

    @Test
    void vPredictionStep() {
        DDIMScheduler s = ddim(Fixtures.ad(Map.of("prediction_type", "v_prediction")), 0, 25);
        assertClose(
                new double[] {
                    -1.0141009092330933,
                    -0.8294548392295837,
                    -0.6448087692260742,
                    -0.46016281843185425,
                    -0.2755167484283447,
                    -0.09087073057889938,
                    0.09377529472112656,
                    0.2784213125705719,
                    0.46306732296943665,
                    0.6477133631706238,
                    0.8323593735694885,
                    1.017005443572998
                },
                s.step(Fixtures.z(manager), 5, Fixtures.x(manager), null),
                1e-6,
                1e-6);
    }

    @Test
    void samplePredictionWithClipping() {
        DDIMScheduler s = ddim(
                Fixtures.ad(Map.of("prediction_type", "sample", "clip_sample", true, "clip_sample_range", 0.5)), 0, 25);
        try (NDManager other = manager.newSubManager()) {
            NDArray x = Fixtures.x(manager);
            NDArray modelOutput = Fixtures.z(other).mul(3); // another manager: the result must not live there
            NDArray prev = s.step(modelOutput, 10, x, null);
            assertSame(manager, prev.getManager());
            assertClose(
                    new double[] {
                        -1.2732243537902832,
                        -0.9989920854568481,
                        -0.7247597575187683,
                        -0.450527548789978,
                        -0.25113847851753235,
                        -0.08917103707790375,
                        0.07279641181230545,
                        0.2721855044364929,
                        0.5464176535606384,
                        0.8206498622894287,
                        1.0948822498321533,
                        1.3691145181655884
                    },
                    prev,
                    1e-6,
                    1e-6);
        }
    }

    @Test
    void stepLeavesOnlyItsResultOnTheSampleManager() {
        DDIMScheduler s = ddim(SchedulerConfig.animateDiffDefault(), 0.5, 25);
        NDArray x = Fixtures.x(manager);
        NDArray eps = Fixtures.z(manager);
        NDArray noise = Fixtures.linspace12(manager, 1, 2);
        float[] before = x.toFloatArray();
        int arrays = manager.getManagedArrays().size();
        NDArray prev = s.step(eps, 0, x, noise);
        assertEquals(arrays + 1, manager.getManagedArrays().size());
        NDArray noised = s.addNoise(x, noise, 500);
        assertEquals(arrays + 2, manager.getManagedArrays().size());
        assertArrayEquals(before, x.toFloatArray());
        assertSame(manager, prev.getManager());
        assertSame(manager, noised.getManager());
    }

    @Test
    void diffusersFullLoops() {
        // diffusers full_loop: 10 steps, eta 0, dummy model sample * t / (t + 1) on dummy_sample_deter;
        // {diffusers sum, diffusers mean, numpy-port sum}
        Object[][] cases = {
            {Map.of(), 172.0067, 0.223967, 172.00671},
            {Map.of("prediction_type", "v_prediction"), 52.5302, 0.0684, 52.530212},
            {Map.of("set_alpha_to_one", true, "beta_start", 0.01), 149.8295, 0.1951, 149.82945},
            {Map.of("set_alpha_to_one", false, "beta_start", 0.01), 149.0784, 0.1941, 149.07843},
        };
        for (Object[] c : cases) {
            @SuppressWarnings("unchecked")
            Map<String, Object> overrides = (Map<String, Object>) c[0];
            DDIMScheduler s = ddim(Fixtures.sd(DIFFUSERS_TEST).with(overrides), 0, 10);
            NDArray x = Fixtures.dummyDeter(manager, false);
            for (int i = 0; i < s.numSteps(); i++) {
                x = s.step(Fixtures.dummyModel(x, s.timesteps()[i]), i, x, null);
            }
            double[] sumMean = Fixtures.absSumMean(x);
            assertClose((double) c[1], sumMean[0], 1e-2, 0);
            assertClose((double) c[2], sumMean[1], 1e-3, 0);
            assertClose((double) c[3], sumMean[0], 0, 1e-5);
        }
    }

    @Test
    void diffusersFullLoopWithNoise() {
        // diffusers test_full_loop_with_noise: start at step 8 of 10 from add_noise
        DDIMScheduler s = ddim(Fixtures.sd(DIFFUSERS_TEST), 0, 10);
        NDArray x = s.addNoiseForStep(Fixtures.dummyDeter(manager, false), Fixtures.dummyDeter(manager, true), 8);
        for (int i = 8; i < 10; i++) {
            x = s.step(Fixtures.dummyModel(x, s.timesteps()[i]), i, x, null);
        }
        double[] sumMean = Fixtures.absSumMean(x);
        assertClose(354.5418, sumMean[0], 1e-2, 0);
        assertClose(0.4616, sumMean[1], 1e-3, 0);
    }

    @Test
    void zeroModelOutputOverTwentyFiveStepsStaysFinite() {
        // with eps = 0 each step scales x by sqrt(alphaBar_prev / alphaBar_t): the product telescopes
        // to 1 / sqrt(alphaBar_961) (set_alpha_to_one)
        DDIMScheduler s = ddim(SchedulerConfig.animateDiffDefault(), 0, 25);
        NDArray x = Fixtures.x(manager);
        NDArray y = x;
        for (int i = 0; i < 25; i++) {
            y = s.step(y.zerosLike(), i, y, null);
        }
        double[] expected = {
            -20.087236404418945,
            -16.435012817382812,
            -12.78278636932373,
            -9.130563735961914,
            -5.478338241577148,
            -1.8261126279830933,
            1.8261126279830933,
            5.478338241577148,
            9.130563735961914,
            12.78278636932373,
            16.435012817382812,
            20.087236404418945
        };
        assertClose(expected, y, 1e-5, 1e-5);
        double gain = 1 / Math.sqrt(s.alphasCumprod()[961]);
        assertClose(x.mul(gain).toFloatArray()[0], y.toFloatArray()[0], 0, 1e-5);
    }

    @Test
    void addNoiseIsTheForwardProcess() {
        DDIMScheduler s = new DDIMScheduler(SchedulerConfig.animateDiffDefault(), 0);
        NDArray x = Fixtures.x(manager);
        NDArray z = Fixtures.z(manager);
        NDArray noised = s.addNoise(x, z, 500);
        assertClose(
                new double[] {
                    0.057083696126937866,
                    0.03837671875953674,
                    0.01966974139213562,
                    0.0009627342224121094,
                    -0.017744235694408417,
                    -0.03645121678709984,
                    -0.05515819415450096,
                    -0.07386517524719238,
                    -0.0925721675157547,
                    -0.11127912998199463,
                    -0.12998613715171814,
                    -0.14869314432144165
                },
                noised,
                1e-7,
                1e-6);
        // formula: sqrt(alphaBar_t) x + sqrt(1 - alphaBar_t) eps
        double a = s.alphasCumprod()[500];
        float[] xs = x.toFloatArray();
        float[] zs = z.toFloatArray();
        double[] formula = new double[xs.length];
        for (int i = 0; i < xs.length; i++) {
            formula[i] = Math.sqrt(a) * xs[i] + Math.sqrt(1 - a) * zs[i];
        }
        assertClose(formula, noised, 1e-6, 1e-5);
        // per-batch timesteps equal the single-timestep version element by element
        NDArray batch = x.concat(x, 0); // (2, 3, 2, 2)
        NDArray batchNoise = z.concat(z, 0);
        NDArray both = s.addNoise(batch, batchNoise, new int[] {500, 20});
        assertArrayEquals(noised.toFloatArray(), both.get(0).toFloatArray());
        assertArrayEquals(s.addNoise(x, z, 20).toFloatArray(), both.get(1).toFloatArray());
    }

    @Test
    void refusesMisuseClearly() {
        DDIMScheduler s = new DDIMScheduler(SchedulerConfig.animateDiffDefault(), 0);
        NDArray x = Fixtures.x(manager);
        assertThrows(IllegalStateException.class, s::timesteps);
        assertThrows(IllegalStateException.class, () -> s.step(x, 0, x, null));
        assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(0));
        assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(1001));
        s.setTimesteps(25);
        assertThrows(IllegalArgumentException.class, () -> s.step(x, 25, x, null));
        assertThrows(IllegalArgumentException.class, () -> s.step(x.reshape(3, 4), 0, x, null));
        assertThrows(IllegalArgumentException.class, () -> s.addNoise(x, x, 1000));
        // leading spacing with steps_offset 1 at 1000 steps would reach timestep 1000
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(1000));
        assertTrue(e.getMessage().contains("timestep 1000"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new DDIMScheduler(SchedulerConfig.defaults(), 1.5));
        assertThrows(IllegalArgumentException.class, () -> Scheduler.create("pndm", SchedulerConfig.defaults(), 0));
        assertTrue(Scheduler.create("ddim", SchedulerConfig.defaults(), 0.3) instanceof DDIMScheduler);
    }
}
