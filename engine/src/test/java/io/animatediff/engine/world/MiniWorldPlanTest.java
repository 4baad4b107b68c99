package io.animatediff.engine.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The recipe's plans, pinned: the shipped models were trained with exactly {@code full()}. */
class MiniWorldPlanTest {
    @Test
    void fullIsTheShippedRun() {
        assertEquals(
                new MiniWorldRecipe.Plan(
                        64,
                        8,
                        1500,
                        16,
                        2e-3,
                        3000,
                        64,
                        1e-3,
                        1500,
                        2e-4,
                        1500,
                        8,
                        2e-3,
                        4096,
                        600,
                        12000,
                        8,
                        1e-3,
                        60,
                        25,
                        4.0,
                        2024,
                        MiniWorld.Backdrops.GREY),
                MiniWorldRecipe.Plan.full());
    }

    @Test
    void reducedPlansKeepTheirSizes() {
        assertEquals(
                new MiniWorldRecipe.Plan(
                        64,
                        8,
                        1,
                        1,
                        2e-3,
                        1,
                        1,
                        1e-3,
                        1,
                        2e-4,
                        1,
                        4,
                        2e-3,
                        1,
                        200,
                        300,
                        4,
                        1e-3,
                        20,
                        12,
                        4.0,
                        77,
                        MiniWorld.Backdrops.GREY),
                MiniWorldRecipe.Plan.ciMotion());
        assertEquals(
                new MiniWorldRecipe.Plan(
                        64,
                        8,
                        40,
                        8,
                        2e-3,
                        60,
                        32,
                        1e-3,
                        20,
                        2e-4,
                        20,
                        4,
                        2e-3,
                        256,
                        20,
                        60,
                        4,
                        1e-3,
                        5,
                        10,
                        4.0,
                        2024,
                        MiniWorld.Backdrops.GREY),
                MiniWorldRecipe.Plan.quick());
    }

    @Test
    void overridesChangeOnlyWhatTheyName() {
        MiniWorldRecipe.Plan full = MiniWorldRecipe.Plan.full();
        MiniWorldRecipe.Plan changed = full.withMotion(500, null, 7).withBackdrops(MiniWorld.Backdrops.BROAD);
        assertEquals(500, changed.motionSteps());
        assertEquals(full.motionLr(), changed.motionLr());
        assertEquals(7, changed.evalClips());
        assertEquals(MiniWorld.Backdrops.BROAD, changed.backdrops());
        assertEquals(
                full,
                changed.toBuilder()
                        .motion(full.motionSteps(), full.motionBatch(), full.motionLr())
                        .evaluation(full.evalClips(), full.evalSteps(), full.guidance())
                        .backdrops(MiniWorld.Backdrops.GREY)
                        .build());
        assertEquals(full, full.toBuilder().build());
    }

    @Test
    void aBadValueIsNamed() {
        MiniWorldRecipe.Plan.Builder b = MiniWorldRecipe.Plan.full().toBuilder();
        IllegalArgumentException clips = assertThrows(
                IllegalArgumentException.class, () -> b.videoClips(0).build());
        assertTrue(
                clips.getMessage().contains("videoClips (reproduce --video-clips) is 0: give at least 1"),
                clips.getMessage());
        IllegalArgumentException eval = assertThrows(
                IllegalArgumentException.class,
                () -> MiniWorldRecipe.Plan.full().withMotion(null, null, 61));
        assertTrue(eval.getMessage().contains("give 1..60"), eval.getMessage());
        IllegalArgumentException lr = assertThrows(
                IllegalArgumentException.class,
                () -> MiniWorldRecipe.Plan.full().withMotion(null, -1.0, null));
        assertTrue(lr.getMessage().contains("reproduce --motion-lr"), lr.getMessage());
    }
}
