package io.animatediff.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.model.AnimateDiffModel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The pipeline end to end on the tiny model: shapes, determinism, inputs, cancellation, memory. */
class AnimationPipelineTest {
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

    @Test
    void generatesTheRequestedFramesAndSize() {
        AnimationResult r = new AnimationPipeline(model).run(small().build(), StepListener.NONE, true);
        assertEquals(4, r.frames().count());
        assertEquals(64, r.frames().width());
        assertEquals(64, r.frames().height());
        assertArrayEquals(new long[] {1, 4, 4, 8, 8}, r.latentShape());
        for (float v : r.frames().toFloatCHW()) {
            assertTrue(v >= 0 && v <= 1);
        }
    }

    @Test
    void sameSeedSameResultOtherSeedOtherResult() {
        AnimationPipeline p = new AnimationPipeline(model);
        float[] a = p.run(small().build(), StepListener.NONE, false).latents();
        float[] b = p.run(small().build(), StepListener.NONE, false).latents();
        float[] c = p.run(small().seed(8).build(), StepListener.NONE, false).latents();
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c));
    }

    @Test
    void unsignedSeedsAboveLongMaxWork() {
        long seed = TorchRandom.parseSeed("13100322578370451493");
        assertTrue(seed < 0, "bit pattern of an unsigned seed above Long.MAX_VALUE");
        AnimationResult r = new AnimationPipeline(model).run(small().seed(seed).build(), StepListener.NONE, false);
        assertEquals(4 * 4 * 8 * 8, r.latents().length);
        assertThrows(IllegalArgumentException.class, () -> TorchRandom.parseSeed("18446744073709551616"));
    }

    @Test
    void torchRandomMatchesTorchManualSeed() {
        // torch.manual_seed(0); torch.randn(3) == [1.5410, -0.2934, -2.1788] (PyTorch docs/tutorials)
        try (NDManager m = NDManager.newBaseManager()) {
            float[] v = TorchRandom.randn(m, new Shape(3), 0).toFloatArray();
            assertEquals(1.5410, v[0], 1e-4);
            assertEquals(-0.2934, v[1], 1e-4);
            assertEquals(-2.1788, v[2], 1e-4);
        }
    }

    @Test
    void givenLatentsAndEmbedsReplaceSeedAndPrompt() {
        AnimationPipeline p = new AnimationPipeline(model);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray latents = TorchRandom.randn(m, new Shape(1, 4, 4, 8, 8), 7);
            float[] seeded = p.run(small().build(), StepListener.NONE, false).latents();
            float[] given = p.run(small().seed(999).latents(latents).build(), StepListener.NONE, false)
                    .latents();
            assertArrayEquals(seeded, given, 1e-6f, "latents equal to the seed's noise give the seed's result");

            NDArray pos = m.randomNormal(new Shape(1, 77, 32));
            NDArray neg = m.zeros(new Shape(1, 77, 32));
            float[] e1 = p.run(small().promptEmbeds(pos, neg).build(), StepListener.NONE, false)
                    .latents();
            float[] e2 = p.run(small().prompt("other").promptEmbeds(pos, neg).build(), StepListener.NONE, false)
                    .latents();
            assertArrayEquals(e1, e2, "prompt_embeds take precedence over the prompt");
        }
    }

    @Test
    void badParametersAreAllNamedAtOnce() {
        AnimationParams bad = small().frames(99).size(60, 64).steps(0).build();
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> new AnimationPipeline(model).run(bad, StepListener.NONE, true));
        assertTrue(e.getMessage().contains("num_frames: 99"), e.getMessage());
        assertTrue(e.getMessage().contains("60x64"), e.getMessage());
        assertTrue(e.getMessage().contains("num_inference_steps: 0"), e.getMessage());
    }

    @Test
    void progressIsReportedAndCancellationStopsBetweenSteps() {
        List<Integer> steps = new ArrayList<>();
        StepListener cancelAfterTwo = new StepListener() {
            @Override
            public void onStep(int step, int total) {
                steps.add(step);
            }

            @Override
            public boolean isCancelled() {
                return steps.size() >= 2;
            }
        };
        assertThrows(
                CancelledException.class,
                () -> new AnimationPipeline(model).run(small().steps(5).build(), cancelAfterTwo, true));
        assertEquals(List.of(1, 2), steps);
    }

    @Test
    void truncatedPromptsAreReported() {
        String longPrompt = "a red circle moving left ".repeat(30);
        AnimationResult r =
                new AnimationPipeline(model).run(small().prompt(longPrompt).build(), StepListener.NONE, false);
        assertEquals(1, r.warnings().size(), r.warnings().toString());
        assertTrue(r.warnings().get(0).contains("dropped"), r.warnings().get(0));
    }

    @Test
    void memoryStaysFlatOverManySteps() {
        BaseNDManager m = (BaseNDManager) model.manager();
        AnimationPipeline p = new AnimationPipeline(model);
        p.run(small().steps(1).build(), StepListener.NONE, true);
        int afterOne = m.getManagedArrays().size();
        p.run(small().steps(12).build(), StepListener.NONE, true);
        assertEquals(afterOne, m.getManagedArrays().size(), "arrays left in the model manager after a run");
    }

    @Test
    void guidanceOneSkipsTheNegativeBranch() {
        AnimationPipeline p = new AnimationPipeline(model);
        float[] a = p.run(small().guidanceScale(1.0).negativePrompt("x").build(), StepListener.NONE, false)
                .latents();
        float[] b = p.run(small().guidanceScale(1.0).negativePrompt("y").build(), StepListener.NONE, false)
                .latents();
        assertArrayEquals(a, b);
        float[] c = p.run(small().guidanceScale(7.5).negativePrompt("y").build(), StepListener.NONE, false)
                .latents();
        assertNotEquals(a[0], c[0]);
    }
}
