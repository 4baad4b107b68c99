package io.animatediff.engine.schedulers;

import static io.animatediff.engine.schedulers.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Golden numbers from a numpy port of diffusers' LCMScheduler.set_timesteps / step
 * (original_inference_steps 50, timestep_scaling 10, AnimateLCM's linear betas 0.00085..0.012).
 */
class LCMSchedulerTest {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private static LCMScheduler lcm(int steps) {
        LCMScheduler s = new LCMScheduler(Fixtures.ad(Map.of()));
        s.setTimesteps(steps);
        return s;
    }

    @Test
    void timestepsMatchTheReference() {
        assertArrayEquals(new int[] {999}, lcm(1).timesteps());
        assertArrayEquals(new int[] {999, 499}, lcm(2).timesteps());
        assertArrayEquals(new int[] {999, 759, 499, 259}, lcm(4).timesteps());
        assertArrayEquals(new int[] {999, 839, 679, 499, 339, 179}, lcm(6).timesteps());
        assertArrayEquals(new int[] {999, 879, 759, 639, 499, 379, 259, 139}, lcm(8).timesteps());
        assertEquals(1.0, lcm(4).initNoiseSigma());
        assertThrows(IllegalArgumentException.class, () -> lcm(51));
    }

    @Test
    void oneStepMatchesTheReference() {
        LCMScheduler s = lcm(4);
        NDArray x = manager.create(new float[] {0.5f, -1.0f, 2.0f, 0.25f});
        NDArray eps = manager.create(new float[] {0.1f, 0.3f, -0.7f, 1.2f});
        NDArray z = manager.create(new float[] {1.0f, -0.5f, 0.2f, 0.0f});
        // first step: boundary condition at t = 999, re-noised to t = 759
        assertTrue(s.stochastic(0));
        assertClose(
                new double[] {2.4384377002716064, -5.201756954193115, 9.97369384765625, -3.436896800994873},
                s.step(eps, 0, x, z),
                1e-5,
                1e-5);
        assertClose(2.505007534736592e-09, s.boundaryScalings(999)[0], 1e-15, 1e-5);
        assertClose(1.0, s.boundaryScalings(999)[1], 1e-7, 0);
        // last step: the denoised sample, no noise
        assertFalse(s.stochastic(3));
        assertClose(
                new double[] {0.5836842060089111, -1.6195032596588135, 3.3294334411621094, -0.7480679750442505},
                s.step(eps, 3, x, null),
                1e-5,
                1e-5);
        assertThrows(IllegalArgumentException.class, () -> s.step(eps, 0, x, null), "noise is required");
    }

    @Test
    void createdByName() {
        Scheduler s = Scheduler.create("lcm", Fixtures.ad(Map.of()), 0);
        assertTrue(s instanceof LCMScheduler);
        assertThrows(IllegalArgumentException.class, () -> Scheduler.create("lcm", Fixtures.ad(Map.of()), 0.5));
    }
}
