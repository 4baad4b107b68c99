package io.animatediff.engine.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reduced {@code reproduce} CI runs (issue 5): every stage of the recipe from scratch at a few
 * steps (each loss falls), and a motion module trained for minutes on the shipped base, frozen,
 * whose clips move as prompted far above chance while the same module zeroed does not.
 */
class ReproduceReducedTest {
    @Test
    void everyStageFromScratchLearns(@TempDir Path dir) throws Exception {
        MiniWorldRecipe.Result r = MiniWorldRecipe.run(dir, MiniWorldRecipe.Plan.quick(), line -> {});
        assertEquals(5, r.losses().size(), "vae, base, personalized, lora, motion");
        for (MiniWorldRecipe.StageLoss l : r.losses()) {
            assertTrue(l.fell(), l.describe());
        }
        for (Path p : java.util.List.of(
                r.set().base().resolve("unet/diffusion_pytorch_model.safetensors"),
                r.set().personalized().resolve("unet/diffusion_pytorch_model.safetensors"),
                r.set().motion(),
                r.set().lora(),
                dir.resolve(WorldModels.TABLE))) {
            assertTrue(Files.isRegularFile(p), p + " written");
        }
        assertEquals(5, r.table().size());
        assertEquals(r.table(), WorldMetrics.readJsonLines(Files.readString(dir.resolve(WorldModels.TABLE))));
    }

    @Test
    void aMotionModuleTrainedOnTheFrozenShippedBaseMovesAsPrompted(@TempDir Path dir) throws Exception {
        assertTrue(WorldModels.available(), "the trained world models ship with the engine");
        MiniWorldSet shipped = WorldModels.extract(dir.resolve("shipped"));
        MiniWorldRecipe.Result r =
                MiniWorldRecipe.reducedMotion(shipped, dir.resolve("run"), MiniWorldRecipe.Plan.ciMotion(), line -> {});
        MiniWorldRecipe.StageLoss loss = r.losses().get(0);
        assertTrue(loss.fell(), loss.describe());
        WorldMetrics.Row trained = r.table().get(0);
        WorldMetrics.Row zeroed = r.table().get(1);
        // chance over the five readings is 20%
        assertTrue(trained.motionAccuracy() >= 0.5, "trained: " + trained.json());
        assertTrue(zeroed.motionAccuracy() <= 0.35, "zeroed: " + zeroed.json());
    }
}
