package io.animatediff.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.model.AnimateDiffModel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Batched generation on the tiny model: each job's latents and frames from the batch equal those
 * of running it alone (different prompts, negative prompts, seeds and guidance scales in one
 * batch), a cancelled job leaves the batch without changing the others, incompatible jobs are
 * refused naming the field.
 *
 * <p>Tolerance: the UNet's float32 kernels round differently for a batch of 2K rows than for 2, and
 * the sampler amplifies it (classifier-free guidance multiplies the difference of the two halves by
 * up to 12 here). Measured max |batched - alone| of the final latents (unit scale): 1.1e-5 to 5.7e-5
 * (5.7e-5 at guidance 12, 3.1e-5 for LCM without guidance); of the 8-bit frames, at most 7 of 49,152
 * values one level (1/255) off. Compared with atol 5e-4 + rtol 1e-3 on latents (a mixed-up prompt,
 * seed or scale differs by 0.1 or more) and one level on frames with at most 2% of values off.
 */
class BatchedGenerationTest {
    private static final double ATOL = 5e-4;
    private static final double RTOL = 1e-3;
    /** One level of the 8-bit frames, and a little for the float conversion. */
    private static final double FRAME_ATOL = 1.0 / 255 + 1e-6;

    private static AnimateDiffModel model;

    @BeforeAll
    static void load() throws Exception {
        model = TinyModelFixture.load();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static AnimationParams.Builder small() {
        return TinyModelFixture.small();
    }

    private static List<StepListener> none(int n) {
        return Collections.nCopies(n, StepListener.NONE);
    }

    private static void assertClose(float[] batched, float[] alone, double atol, double rtol, String what) {
        assertEquals(alone.length, batched.length, what + ": size");
        double norm = 0;
        for (int i = 0; i < alone.length; i++) {
            norm += Math.abs(alone[i]);
            double bound = atol + rtol * Math.abs(alone[i]);
            if (!(Math.abs(batched[i] - alone[i]) <= bound)) {
                throw new AssertionError(what + ": element " + i + " is " + batched[i] + " batched, " + alone[i]
                        + " alone (atol " + atol + ", rtol " + rtol + ")");
            }
        }
        assertTrue(norm > 0, what + ": all zero, the comparison would be vacuous");
    }

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    private static void assertSameAsAlone(List<AnimationParams> jobs, List<BatchedGeneration.Outcome> out) {
        AnimationPipeline alone = new AnimationPipeline(model);
        assertEquals(jobs.size(), out.size());
        for (int k = 0; k < jobs.size(); k++) {
            AnimationResult a = alone.run(jobs.get(k), StepListener.NONE, true);
            AnimationResult b = out.get(k).result();
            assertNotNull(b, "job " + k + " has a result");
            assertEquals(
                    List.of(a.latentShape()[0], a.latentShape()[1]), List.of(b.latentShape()[0], b.latentShape()[1]));
            float[] fa = a.frames().toFloatCHW();
            float[] fb = b.frames().toFloatCHW();
            int off = 0;
            for (int i = 0; i < fa.length; i++) {
                off += fa[i] == fb[i] ? 0 : 1;
            }
            System.out.printf(
                    "batched job %d: max |batched - alone| latents %.3g, frames %.3g (%d of %d values off)%n",
                    k, maxDiff(b.latents(), a.latents()), maxDiff(fb, fa), off, fa.length);
            assertClose(b.latents(), a.latents(), ATOL, RTOL, "job " + k + " latents");
            assertClose(fb, fa, FRAME_ATOL, 0, "job " + k + " frames");
            assertTrue(off <= fa.length / 50, "job " + k + ": " + off + " of " + fa.length + " frame values differ");
        }
    }

    @Test
    void eachJobOfABatchEqualsItsRunAlone() {
        List<AnimationParams> jobs = List.of(
                small().build(),
                small().prompt("a blue square")
                        .negativePrompt("blurry")
                        .seed(8)
                        .guidanceScale(3.0)
                        .build(),
                small().prompt("a green line")
                        .seed(123456789L)
                        .guidanceScale(12.0)
                        .build());
        List<BatchedGeneration.Outcome> out = new BatchedGeneration(model).run(jobs, none(3), true);
        assertSameAsAlone(jobs, out);
        // not vacuous: the jobs differ from each other
        assertTrue(maxDiff(out.get(0).result().latents(), out.get(1).result().latents()) > 1e-3);
        assertTrue(maxDiff(out.get(0).result().latents(), out.get(2).result().latents()) > 1e-3);
    }

    @Test
    void stochasticStepsDrawEachJobsOwnNoiseAndNoGuidanceWorks() {
        // LCM re-noises after every step but the last, from the job's seed; guidance 1 = no CFG
        List<AnimationParams> jobs = List.of(
                small().scheduler("lcm").guidanceScale(1.0).build(),
                small().scheduler("lcm")
                        .guidanceScale(1.0)
                        .prompt("a blue square")
                        .seed(9)
                        .build());
        assertSameAsAlone(jobs, new BatchedGeneration(model).run(jobs, none(2), true));
    }

    @Test
    void aCancelledJobLeavesTheBatchAndTheOthersFinishUnchanged() {
        List<AnimationParams> jobs = List.of(
                small().build(),
                small().seed(8).guidanceScale(3.0).build(),
                small().seed(9).build());
        StepListener cancelAfterOne = new StepListener() {
            private int steps;

            @Override
            public void onStep(int step, int total) {
                steps = step;
            }

            @Override
            public boolean isCancelled() {
                return steps >= 1;
            }
        };
        List<Integer> told = new ArrayList<>();
        List<BatchedGeneration.Outcome> out = new BatchedGeneration(model)
                .run(jobs, List.of(StepListener.NONE, cancelAfterOne, StepListener.NONE), true, (k, o) -> told.add(k));
        assertNull(out.get(1).result());
        assertEquals("cancelled before step 2 of 3", out.get(1).cancelled().getMessage());
        assertEquals(List.of(1, 0, 2), told, "the cancel is told at once, the results as they are decoded");
        assertSameAsAlone(List.of(jobs.get(0), jobs.get(2)), List.of(out.get(0), out.get(2)));
    }

    @Test
    void incompatibleJobsAreRefusedNamingTheFieldAndWhatToDo() {
        BatchedGeneration batch = new BatchedGeneration(model);
        IllegalArgumentException size = assertThrows(
                IllegalArgumentException.class,
                () -> batch.run(
                        List.of(small().build(), small().size(128, 64).steps(4).build()), none(2), false));
        assertTrue(size.getMessage().contains("job 1: width 128 differs from 64"), size.getMessage());
        assertTrue(size.getMessage().contains("job 1: num_inference_steps 4 differs from 3"), size.getMessage());
        assertTrue(size.getMessage().contains("run incompatible jobs alone"), size.getMessage());

        IllegalArgumentException cfg = assertThrows(
                IllegalArgumentException.class,
                () -> batch.run(
                        List.of(small().build(), small().guidanceScale(1.0).build()), none(2), false));
        assertTrue(cfg.getMessage().contains("classifier-free guidance"), cfg.getMessage());

        AnimationParams travel =
                small().prompt("").promptMap(Map.of(0, "a", 2, "b")).build();
        AnimationParams context = small().frames(8)
                .context(new ContextWindows(
                        4, 1, 1, ContextWindows.Schedule.UNIFORM, ContextWindows.Fuse.PYRAMID, false))
                .build();
        IllegalArgumentException features = assertThrows(
                IllegalArgumentException.class,
                () -> batch.run(List.of(small().build(), travel, context), none(3), false));
        assertTrue(
                features.getMessage().contains("job 1: prompt travel (prompt_map) run alone"), features.getMessage());
        assertTrue(features.getMessage().contains("job 2: context windows run alone"), features.getMessage());
        assertTrue(BatchedGeneration.unsupported(small().build()).isEmpty());
        assertEquals(List.of("context windows"), BatchedGeneration.unsupported(context));

        assertThrows(IllegalArgumentException.class, () -> batch.run(List.of(), List.of(), false));
        assertThrows(IllegalArgumentException.class, () -> batch.run(List.of(small().build()), none(2), false));
    }
}
