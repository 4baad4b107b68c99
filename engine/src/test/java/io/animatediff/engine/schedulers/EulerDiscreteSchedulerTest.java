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
 * Golden numbers: "diffusers" ones are copied from diffusers tests/schedulers/test_scheduler_euler.py;
 * the others were derived by porting scheduling_euler_discrete.py line by line to numpy with torch's
 * float32 arithmetic; that port also reproduces every diffusers test number below.
 */
class EulerDiscreteSchedulerTest {
    /** diffusers' Euler test config: 1100 train steps, betas 0.0001..0.02 "linear". */
    private static final Map<String, Object> DIFFUSERS_TEST =
            Map.of("num_train_timesteps", 1100, "beta_start", 0.0001, "beta_end", 0.02, "beta_schedule", "linear");

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private static EulerDiscreteScheduler euler(SchedulerConfig cfg, int steps) {
        EulerDiscreteScheduler s = new EulerDiscreteScheduler(cfg);
        s.setTimesteps(steps);
        return s;
    }

    private static void assertSchedule(
            EulerDiscreteScheduler s, double[] timesteps, double[] sigmas, double initNoiseSigma) {
        assertClose(timesteps, s.modelTimesteps(), 1e-4, 1e-6);
        assertClose(sigmas, s.sigmas(), 1e-9, 1e-6);
        assertClose(initNoiseSigma, s.initNoiseSigma(), 0, 1e-6);
    }

    @Test
    void stableDiffusionLinspaceSchedule() {
        EulerDiscreteScheduler s = euler(SchedulerConfig.defaults(), 10);
        assertEquals("linspace", s.config().timestepSpacing());
        assertSchedule(
                s,
                new double[] {999, 888, 777, 666, 555, 444, 333, 222, 111, 0},
                new double[] {
                    14.614646911621094,
                    7.839885234832764,
                    4.609176158905029,
                    2.9183084964752197,
                    1.950162410736084,
                    1.344928503036499,
                    0.9323583245277405,
                    0.6249772906303406,
                    0.36865851283073425,
                    0.029167532920837402,
                    0.0
                },
                14.614646911621094);
    }

    @Test
    void lightningTrailingSchedule() {
        // AnimateDiff-Lightning: Euler, "trailing", the AnimateDiff betas
        EulerDiscreteScheduler s = euler(Fixtures.ad(Map.of("timestep_spacing", "trailing")), 4);
        assertArrayEquals(new int[] {999, 749, 499, 249}, s.timesteps());
        assertSchedule(
                s,
                new double[] {999, 749, 499, 249},
                new double[] {25.146116256713867, 6.557212829589844, 2.2759623527526855, 0.8670202493667603, 0.0},
                25.146116256713867);
    }

    @Test
    void leadingScheduleScalesInitNoise() {
        EulerDiscreteScheduler s = euler(Fixtures.sd(Map.of("timestep_spacing", "leading", "steps_offset", 1)), 5);
        assertSchedule(
                s,
                new double[] {801, 601, 401, 201, 1},
                new double[] {
                    5.134433269500732,
                    2.2928547859191895,
                    1.1682164669036865,
                    0.5740507245063782,
                    0.04131447896361351,
                    0.0
                },
                5.2309088706970215);
    }

    @Test
    void karrasSigmasAndTheirFractionalTimesteps() {
        EulerDiscreteScheduler s = euler(Fixtures.sd(Map.of("use_karras_sigmas", true)), 5);
        assertSchedule(
                s,
                new double[] {999.0, 785.9539794921875, 427.4897766113281, 58.89149856567383, 0.0},
                new double[] {
                    14.614646911621094,
                    4.796544075012207,
                    1.2741053104400635,
                    0.2479517012834549,
                    0.029167532920837402,
                    0.0
                },
                14.614646911621094);
        assertArrayEquals(new int[] {999, 786, 427, 59, 0}, s.timesteps());
    }

    @Test
    void fractionalLinspaceTimestepAndSigmaMinFinal() {
        EulerDiscreteScheduler s = euler(Fixtures.sd(Map.of("final_sigmas_type", "sigma_min")), 3);
        assertSchedule(
                s,
                new double[] {999.0, 499.5, 0.0},
                new double[] {14.614646911621094, 1.6155834197998047, 0.029167532920837402, 0.029167532920837402},
                14.614646911621094);
    }

    @Test
    void zeroTerminalSnrKeepsTheFirstSigmaFinite() {
        EulerDiscreteScheduler s =
                euler(Fixtures.sd(Map.of("rescale_betas_zero_snr", true, "timestep_spacing", "trailing")), 4);
        assertSchedule(
                s,
                new double[] {999, 749, 499, 249},
                new double[] {4095.999755859375, 5.398740768432617, 1.7680810689926147, 0.7270563840866089, 0.0},
                4095.999755859375);
    }

    @Test
    void scaleModelInputDividesBySqrtSigmaSquaredPlusOne() {
        EulerDiscreteScheduler s = euler(SchedulerConfig.defaults(), 10);
        NDArray scaled = s.scaleModelInput(Fixtures.x(manager), 0);
        assertSame(manager, scaled.getManager());
        assertClose(
                new double[] {
                    -0.06826488673686981,
                    -0.055853091180324554,
                    -0.043441291898489,
                    -0.03102949634194374,
                    -0.018617697060108185,
                    -0.006205899175256491,
                    0.006205899175256491,
                    0.018617697060108185,
                    0.03102949634194374,
                    0.043441291898489,
                    0.055853091180324554,
                    0.06826488673686981
                },
                scaled,
                1e-8,
                1e-6);
    }

    @Test
    void lightningTrailingSteps() {
        // numpy port of EulerDiscreteScheduler.step with "trailing" spacing, 4 steps, AnimateDiff betas
        EulerDiscreteScheduler s = euler(Fixtures.ad(Map.of("timestep_spacing", "trailing")), 4);
        NDArray x = Fixtures.x(manager);
        NDArray eps = Fixtures.z(manager);
        assertClose(
                new double[] {
                    -10.294452667236328,
                    -8.253744125366211,
                    -6.2130351066589355,
                    -4.172326564788818,
                    -2.131617784500122,
                    -0.09090909361839294,
                    1.949799656867981,
                    3.9905083179473877,
                    6.031217098236084,
                    8.07192611694336,
                    10.112634658813477,
                    12.153343200683594
                },
                s.step(eps, 0, x, null),
                1e-5,
                1e-5);
        assertClose(
                new double[] {
                    -1.433510184288025,
                    -1.164989948272705,
                    -0.8964697122573853,
                    -0.6279495358467102,
                    -0.3594292998313904,
                    -0.09090909361839294,
                    0.17761112749576569,
                    0.4461313486099243,
                    0.7146515846252441,
                    0.9831717610359192,
                    1.2516919374465942,
                    1.520212173461914
                },
                s.step(eps, 3, x, null),
                1e-5,
                1e-5);
    }

    @Test
    void epsilonSteps() {
        EulerDiscreteScheduler s = euler(SchedulerConfig.defaults(), 10);
        NDArray x = Fixtures.x(manager);
        NDArray eps = manager.full(x.getShape(), 0.3f);
        assertClose(
                new double[] {
                    -3.032428503036499, -2.8506102561950684, -2.668792247772217, -2.486974000930786,
                    -2.3051557540893555, -2.123337507247925, -1.9415193796157837, -1.7597012519836426,
                    -1.577883005142212, -1.3960648775100708, -1.2142467498779297, -1.032428503036499
                },
                s.step(eps, 0, x, null),
                1e-6,
                1e-6);
        assertClose(
                new double[] {
                    -1.0087502002716064,
                    -0.8269320726394653,
                    -0.6451138854026794,
                    -0.46329572796821594,
                    -0.28147754073143005,
                    -0.09965935349464417,
                    0.08215883374214172,
                    0.2639770209789276,
                    0.4457952082157135,
                    0.627613365650177,
                    0.8094315528869629,
                    0.9912497401237488
                },
                s.step(eps, 9, x, null),
                1e-6,
                1e-6);
    }

    @Test
    void vPredictionAndSamplePredictionSteps() {
        EulerDiscreteScheduler v = euler(Fixtures.sd(Map.of("prediction_type", "v_prediction")), 10);
        assertClose(
                new double[] {
                    -0.8923436999320984,
                    -0.7275888323783875,
                    -0.5628339648246765,
                    -0.39807915687561035,
                    -0.23332428932189941,
                    -0.06856942176818848,
                    0.09618543833494186,
                    0.260940283536911,
                    0.42569515109062195,
                    0.5904499888420105,
                    0.7552048563957214,
                    0.9199597239494324
                },
                v.step(Fixtures.z(manager), 4, Fixtures.x(manager), null),
                1e-6,
                1e-6);
        EulerDiscreteScheduler sample = euler(Fixtures.sd(Map.of("prediction_type", "sample")), 10);
        assertClose(
                new double[] {
                    -0.4497278332710266,
                    -0.3712940812110901,
                    -0.29286038875579834,
                    -0.2144266813993454,
                    -0.13599298894405365,
                    -0.057559262961149216,
                    0.020874448120594025,
                    0.09930814802646637,
                    0.1777418851852417,
                    0.25617557764053345,
                    0.3346092998981476,
                    0.41304296255111694
                },
                sample.step(Fixtures.z(manager), 2, Fixtures.x(manager), null),
                1e-6,
                1e-6);
    }

    /** diffusers full_loop: init noise, then per step scale_model_input, dummy model, step. */
    private NDArray fullLoop(EulerDiscreteScheduler s, NDArray x, int fromStep) {
        double[] t = s.modelTimesteps();
        for (int i = fromStep; i < s.numSteps(); i++) {
            x = s.scaleModelInput(x, i);
            x = s.step(Fixtures.dummyModel(x, t[i]), i, x, null);
        }
        return x;
    }

    @Test
    void diffusersFullLoops() {
        // {overrides, diffusers sum, diffusers mean, numpy-port sum}; karras: test_full_loop_device_karras_sigmas
        Object[][] cases = {
            {Map.of(), 10.0807, 0.0131, 10.080675},
            {Map.of("prediction_type", "v_prediction"), 0.0002, 2.2676e-06, 2.4181457e-10},
            {Map.of("use_karras_sigmas", true), 124.52299499511719, 0.16213932633399963, 124.52258},
        };
        for (Object[] c : cases) {
            @SuppressWarnings("unchecked")
            Map<String, Object> overrides = (Map<String, Object>) c[0];
            EulerDiscreteScheduler s = euler(Fixtures.sd(DIFFUSERS_TEST).with(overrides), 10);
            NDArray x = fullLoop(s, Fixtures.dummyDeter(manager, false).mul(s.initNoiseSigma()), 0);
            double[] sumMean = Fixtures.absSumMean(x);
            assertClose((double) c[1], sumMean[0], 1e-2, 0);
            assertClose((double) c[2], sumMean[1], 1e-3, 0);
            assertClose((double) c[3], sumMean[0], 1e-6, 1e-5);
        }
    }

    @Test
    void diffusersFullLoopWithNoise() {
        // diffusers test_full_loop_with_noise: add_noise at timesteps[8] (122.111), then steps 8 and 9
        EulerDiscreteScheduler s = euler(Fixtures.sd(DIFFUSERS_TEST), 10);
        NDArray init = Fixtures.dummyDeter(manager, false).mul(s.initNoiseSigma());
        NDArray noise = Fixtures.dummyDeter(manager, true);
        // timesteps()[8] = 122 is 122.111 rounded: a fractional timestep is reached by its step index
        assertThrows(IllegalArgumentException.class, () -> s.addNoise(init, noise, s.timesteps()[8]));
        NDArray byStep = s.addNoiseForStep(init, noise, 8);
        double[] sumMean = Fixtures.absSumMean(fullLoop(s, byStep, 8));
        assertClose(57062.9297, sumMean[0], 1e-2, 0);
        assertClose(74.3007, sumMean[1], 1e-3, 0);
    }

    @Test
    void addNoiseUsesTheScheduleSigma() {
        NDArray x = Fixtures.x(manager);
        NDArray z = Fixtures.z(manager);
        // before setTimesteps every training timestep is in the schedule: sigma_500 = 2.2847326
        EulerDiscreteScheduler training = new EulerDiscreteScheduler(SchedulerConfig.animateDiffDefault());
        assertClose(
                new double[] {
                    0.14236629009246826,
                    0.09571123123168945,
                    0.049056172370910645,
                    0.0024010539054870605,
                    -0.04425401985645294,
                    -0.09090909361839294,
                    -0.13756416738033295,
                    -0.18421924114227295,
                    -0.23087432980537415,
                    -0.27752941846847534,
                    -0.32418447732925415,
                    -0.37083959579467773
                },
                training.addNoise(x, z, 500),
                1e-6,
                1e-6);
        EulerDiscreteScheduler s = euler(Fixtures.ad(Map.of("timestep_spacing", "trailing")), 4);
        NDArray noised = s.addNoise(x, z, 749);
        assertClose(
                new double[] {
                    2.278606414794922,
                    1.8047034740447998,
                    1.3308002948760986,
                    0.8568971157073975,
                    0.38299402594566345,
                    -0.09090909361839294,
                    -0.564812183380127,
                    -1.0387153625488281,
                    -1.5126184225082397,
                    -1.986521601676941,
                    -2.4604246616363525,
                    -2.9343278408050537
                },
                noised,
                1e-6,
                1e-6);
        // formula: x + sigma eps
        float[] xs = x.toFloatArray();
        float[] zs = z.toFloatArray();
        double[] formula = new double[xs.length];
        for (int i = 0; i < xs.length; i++) {
            formula[i] = xs[i] + s.sigmas()[1] * zs[i];
        }
        assertClose(formula, noised, 1e-6, 1e-6);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.addNoise(x, z, 500));
        assertTrue(e.getMessage().contains("addNoiseForStep"), e.getMessage());
    }

    @Test
    void stepLeavesOnlyItsResultOnTheSampleManager() {
        EulerDiscreteScheduler s = euler(Fixtures.sd(Map.of("prediction_type", "v_prediction")), 10);
        NDArray x = Fixtures.x(manager);
        NDArray out = Fixtures.z(manager);
        int arrays = manager.getManagedArrays().size();
        NDArray prev = s.step(out, 3, x, null);
        assertEquals(arrays + 1, manager.getManagedArrays().size());
        assertSame(manager, prev.getManager());
    }

    @Test
    void refusesMisuseClearly() {
        EulerDiscreteScheduler s = new EulerDiscreteScheduler(SchedulerConfig.defaults());
        NDArray x = Fixtures.x(manager);
        assertThrows(IllegalStateException.class, s::timesteps);
        assertThrows(IllegalStateException.class, () -> s.scaleModelInput(x, 0));
        s.setTimesteps(4);
        assertThrows(IllegalArgumentException.class, () -> s.step(x, 4, x, null));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> Scheduler.create("euler", SchedulerConfig.defaults(), 0.5));
        assertTrue(e.getMessage().contains("eta = 0.5"), e.getMessage());
        assertTrue(Scheduler.create("euler", SchedulerConfig.defaults(), 0) instanceof EulerDiscreteScheduler);
    }
}
