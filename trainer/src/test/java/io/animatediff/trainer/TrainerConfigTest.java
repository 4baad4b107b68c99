package io.animatediff.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The trainer's environment: the latent cache a job's MotionTrainer gets, and a bad value named. */
class TrainerConfigTest {
    private static final List<String> STORE =
            List.of("animatediff.s3.endpoint", "animatediff.s3.access-key", "animatediff.s3.secret-key");

    @BeforeEach
    void store() {
        STORE.forEach(p -> System.setProperty(p, p.endsWith("endpoint") ? "http://127.0.0.1:9000" : "test"));
    }

    @AfterEach
    void clear() {
        STORE.forEach(System::clearProperty);
    }

    @Test
    void latentCacheComesFromTheEnvironmentAndDefaultsToNone() {
        assertEquals(
                0,
                TrainerConfig.fromEnvironment(Map.of("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
                        .latentCacheClips());
        assertEquals(
                600,
                TrainerConfig.fromEnvironment(Map.of(
                                "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "ANIMATEDIFF_TRAINER_LATENT_CACHE", "600"))
                        .latentCacheClips());
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> TrainerConfig.fromEnvironment(
                        Map.of("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "ANIMATEDIFF_TRAINER_LATENT_CACHE", "-1")));
        assertTrue(e.getMessage().contains("ANIMATEDIFF_TRAINER_LATENT_CACHE -1 must be >= 0"), e.getMessage());
    }
}
