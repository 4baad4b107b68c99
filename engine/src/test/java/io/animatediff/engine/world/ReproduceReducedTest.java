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
        // in the broad world (nine backdrops): the grey world's code path is the shipped models' (below)
        MiniWorldRecipe.Result r = MiniWorldRecipe.run(
                dir, MiniWorldRecipe.Plan.quick().withBackdrops(MiniWorld.Backdrops.BROAD), line -> {});
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
        assertEquals(7, r.table().size(), "five generated rows and the world's clips through the VAE in both domains");
        assertEquals(
                "world clips through the VAE, personalized domain",
                r.table().get(6).name());
        assertEquals(r.table(), WorldMetrics.readJsonLines(Files.readString(dir.resolve(WorldModels.TABLE))));
    }

    /**
     * The shipped VAE keeps what the metrics read from the world's own clips: every clip's motion
     * and domain, and the colour of nearly every object (the ceiling of the generated rows' colour).
     */
    @Test
    void theShippedVaeKeepsMotionDomainAndColour(@TempDir Path dir) throws Exception {
        MiniWorldSet shipped = WorldModels.extract(dir.resolve("shipped"));
        for (MiniWorld.Domain d : MiniWorld.Domain.values()) {
            WorldMetrics.Row row = WorldEvaluation.vaeRoundTrip(
                    "vae " + d, shipped.base(), d, MiniWorldRecipe.settings(MiniWorldRecipe.Plan.ciMotion()));
            assertEquals(1.0, row.motionAccuracy(), row.json());
            assertEquals(d == MiniWorld.Domain.PERSONALIZED ? 1.0 : 0.0, row.personalizedFrames(), row.json());
            assertTrue(row.colourAccuracy() >= COLOUR_CEILING, row.json());
        }
    }

    /** The shipped VAE's colour accuracy on the world's clips, at least (60 clips: 73.3% base, 98.3% personalized). */
    private static final double COLOUR_CEILING = 0.70;

    /**
     * The motion stage in minutes on the shipped base, frozen: a fresh module trained for 300 steps
     * (its loss falls), beside the shipped module (12,000 steps) and the shipped module zeroed (= the
     * base). Deterministic: seeded draws on CPU. The shipped module's clips follow the prompted
     * direction far above chance and far above the zeroed module's, whose objects jump about; the
     * short run already makes more clips one moving object than the zeroed module does.
     */
    @Test
    void theMotionStageOnTheFrozenShippedBaseMovesObjectsAsPrompted(@TempDir Path dir) throws Exception {
        assertTrue(WorldModels.available(), "the trained world models ship with the engine");
        MiniWorldSet shipped = WorldModels.extract(dir.resolve("shipped"));
        MiniWorldRecipe.Plan plan = MiniWorldRecipe.Plan.ciMotion();
        Path motion = dir.resolve("motion.safetensors");
        MiniWorldRecipe.StageLoss loss =
                MiniWorldRecipe.trainMotion(shipped.base(), dir.resolve("work"), motion, plan, l -> {});
        assertTrue(loss.fell(), loss.describe());
        Path zeroed = WorldEvaluation.zeroedMotion(shipped.motion(), dir.resolve("zeroed.safetensors"));
        java.util.List<MiniWorld.Scene> scenes = WorldEvaluation.scenes(plan.evalClips());
        // the rows: 300 steps on the base, shipped on the base, zeroed on the base, shipped and zeroed
        // inserted into the personalized model (the paper's claim)
        Path[] modules = {motion, shipped.motion(), zeroed, shipped.motion(), zeroed};
        Path[] models = {shipped.base(), shipped.base(), shipped.base(), shipped.personalized(), shipped.personalized()
        };
        double[] moving = new double[modules.length];
        double[] accuracy = new double[modules.length];
        for (int m = 0; m < modules.length; m++) {
            java.util.List<io.animatediff.engine.media.Frames> clips = WorldEvaluation.generate(
                    new WorldEvaluation.Setup("row", models[m], modules[m], java.util.List.of()),
                    MiniWorldRecipe.settings(plan),
                    scenes);
            for (int i = 0; i < clips.size(); i++) {
                WorldMetrics.ClipReading r = WorldMetrics.read(clips.get(i));
                boolean track = r.objectFound() && r.direction() != null && r.direction() != MiniWorld.Direction.STILL;
                moving[m] += track ? 1.0 / clips.size() : 0;
                accuracy[m] += r.objectFound() && r.direction() == scenes.get(i).direction() ? 1.0 / clips.size() : 0;
            }
        }
        System.out.printf(
                "reduced motion run: %s; moving tracks: 300 steps %.2f, shipped %.2f, zeroed %.2f;"
                        + " prompted direction: 300 steps %.2f, shipped %.2f, zeroed %.2f;"
                        + " personalized: shipped %.2f, zeroed %.2f%n",
                loss.describe(),
                moving[0],
                moving[1],
                moving[2],
                accuracy[0],
                accuracy[1],
                accuracy[2],
                accuracy[3],
                accuracy[4]);
        // measured: 1.00 against 0.05 (the full table: 96.7% on 60 scenes at 25 steps)
        assertTrue(
                accuracy[1] >= 0.8 && accuracy[1] >= accuracy[2] + 0.6,
                "shipped module: prompted direction " + accuracy[1] + " vs zeroed " + accuracy[2]);
        // inserted untouched into the personalized model: measured 0.50 against 0.05 (table: 58.3%)
        assertTrue(
                accuracy[3] >= 0.2 + 0.15 && accuracy[3] >= accuracy[4] + 0.25,
                "shipped module in the personalized model: prompted direction " + accuracy[3] + " vs chance 0.2 and"
                        + " zeroed " + accuracy[4]);
        // measured: 0.15 against 0.10 (shipped 0.80): 300 steps are a fortieth of the shipped run
        assertTrue(moving[0] > moving[2], "300 steps: moving tracks " + moving[0] + " vs zeroed " + moving[2]);
    }
}
