package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.animatediff.engine.config.AutoencoderKLConfig;
import org.junit.jupiter.api.Test;

/** The autoencoder's learning-rate schedule: constant by default, or a half cosine to a final fraction. */
class AutoencoderScheduleTest {
    @Test
    void constantByDefaultAndAHalfCosineToTheFinalFraction() {
        AutoencoderTrainer.Config constant =
                new AutoencoderTrainer.Config(AutoencoderKLConfig.tiny(), 101, 4, 2e-3, 1e-4, 1.0, 5);
        for (long step : new long[] {0, 50, 100}) {
            assertEquals(2e-3, constant.learningRateAt(step), 0.0, "constant: bit for bit the configured rate");
        }
        AutoencoderTrainer.Config cosine =
                new AutoencoderTrainer.Config(AutoencoderKLConfig.tiny(), 101, 4, 2e-3, 1e-4, 1.0, 5, 0.1);
        assertEquals(2e-3, cosine.learningRateAt(0), 1e-18);
        assertEquals(2e-3 * (0.1 + 0.9 * 0.5), cosine.learningRateAt(50), 1e-18, "half way: the mean of both ends");
        assertEquals(2e-4, cosine.learningRateAt(100), 1e-18);
        assertEquals(2e-4, cosine.learningRateAt(500), 1e-18, "past the last step: stays at the end");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> new AutoencoderTrainer.Config(AutoencoderKLConfig.tiny(), 10, 4, 2e-3, 1e-4, 1.0, 5, 0.0));
        assertEquals(
                "autoencoder training: the final learning rate is a fraction of the first in (0, 1] (1 = constant),"
                        + " got 0.0",
                e.getMessage());
    }
}
