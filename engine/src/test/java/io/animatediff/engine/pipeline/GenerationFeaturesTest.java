package io.animatediff.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.pipeline.ContextWindows.Fuse;
import io.animatediff.engine.pipeline.ContextWindows.Schedule;
import io.animatediff.engine.unet.VanillaTemporalModule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The generation features end to end on the tiny model: context windows, prompt travel, motion
 * scale, video-to-video, FreeInit and the LCM sampler.
 */
class GenerationFeaturesTest {
    private static AnimateDiffModel model;

    @BeforeAll
    static void load() throws Exception {
        model = TinyModelFixture.load();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static AnimationParams.Builder small(int frames) {
        return AnimationParams.builder()
                .prompt("a red circle moving left")
                .frames(frames)
                .size(64, 64)
                .steps(2)
                .guidanceScale(1.0)
                .seed(7);
    }

    private static float[] run(AnimationParams p) {
        return new AnimationPipeline(model).run(p, StepListener.NONE, false).latents();
    }

    private static void assertClose(float[] expected, float[] actual, double atol, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (!(Math.abs(actual[i] - expected[i]) <= atol + rtol * Math.abs(expected[i]))) {
                fail(what + ": element " + i + " expected " + expected[i] + " got " + actual[i]);
            }
        }
    }

    /** Frames [from, to) of latents (1, 4, F, 8, 8) stored flat. */
    private static float[] frames(float[] latents, int f, int from, int to) {
        int plane = 64;
        float[] out = new float[4 * (to - from) * plane];
        int o = 0;
        for (int c = 0; c < 4; c++) {
            for (int fr = from; fr < to; fr++) {
                System.arraycopy(latents, (c * f + fr) * plane, out, o, plane);
                o += plane;
            }
        }
        return out;
    }

    @Test
    void fortyEightFramesWithASixteenFrameLimitNeverShowAMotionModuleMoreThanSixteen() {
        List<Integer> seen = Collections.synchronizedList(new ArrayList<>());
        List<VanillaTemporalModule> modules = model.unet().motionModules();
        assertFalse(modules.isEmpty());
        modules.forEach(m -> m.observeFrames(seen::add));
        try {
            AnimationParams p = small(48)
                    .steps(1)
                    .context(new ContextWindows(16, 4, 1, Schedule.UNIFORM, Fuse.PYRAMID, false))
                    .build();
            AnimationResult r = new AnimationPipeline(model).run(p, StepListener.NONE, false);
            assertArrayEquals(new long[] {1, 4, 48, 8, 8}, r.latentShape());
        } finally {
            modules.forEach(m -> m.observeFrames(null));
        }
        // 4 windows x every motion module, each call exactly 16 frames
        assertEquals(4 * modules.size(), seen.size());
        assertTrue(seen.stream().allMatch(f -> f == 16), "frames per motion-module call: " + seen);
        // without context windows 48 frames exceed the module's table (32) and are refused
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> run(small(48).build()));
        assertTrue(e.getMessage().contains("context windows"), e.getMessage());
    }

    @Test
    void aModuleOfSixteenPositionsAnimatesFortyEightFrames() throws Exception {
        Path file = Files.createTempFile("motion-16", ".safetensors");
        MotionModuleConfig tiny = MotionModuleConfig.tiny(false);
        MotionModuleConfig sixteen = tiny.withMaxFrames(16);
        TinyModels.writeMotionModule(file, sixteen, 100, true);
        try (AnimateDiffModel m16 =
                ModelLoader.load(TinyModelFixture.base(), file, MotionModuleConfig.MotionNorm.OFFICIAL, List.of())) {
            assertEquals(16, m16.unet().maxFrames());
            AtomicInteger max = new AtomicInteger();
            m16.unet().motionModules().forEach(mm -> mm.observeFrames(f -> max.accumulateAndGet(f, Math::max)));
            AnimationParams p = small(48)
                    .steps(1)
                    .context(new ContextWindows(16, 4, 1, Schedule.UNIFORM, Fuse.PYRAMID, false))
                    .build();
            AnimationResult r = new AnimationPipeline(m16).run(p, StepListener.NONE, false);
            assertArrayEquals(new long[] {1, 4, 48, 8, 8}, r.latentShape());
            assertEquals(16, max.get());
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> new AnimationPipeline(m16).run(small(17).build(), StepListener.NONE, false));
            assertTrue(e.getMessage().contains("num_frames"), e.getMessage());
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void withoutOverlapEachWindowEqualsADirectSixteenFrameRun() {
        try (NDManager m = model.manager().newSubManager()) {
            NDArray noise = TorchRandom.randn(m, new Shape(1, 4, 32, 8, 8), 11);
            float[] windowed = run(small(32)
                    .latents(noise)
                    .context(new ContextWindows(16, 0, 1, Schedule.UNIFORM, Fuse.PYRAMID, false))
                    .build());
            for (int w = 0; w < 2; w++) {
                NDArray part = noise.get(":, :, " + (16 * w) + ":" + (16 * w + 16));
                float[] direct = run(small(16).latents(part).build());
                assertClose(direct, frames(windowed, 32, 16 * w, 16 * w + 16), 1e-5, 1e-5, "window " + w);
            }
        }
    }

    @Test
    void loopedClosedScheduleRunsWithinTheLimit() {
        AtomicInteger max = new AtomicInteger();
        List<VanillaTemporalModule> modules = model.unet().motionModules();
        modules.forEach(m -> m.observeFrames(f -> max.accumulateAndGet(f, Math::max)));
        try {
            float[] a = run(small(20)
                    .context(new ContextWindows(8, 2, 2, Schedule.LOOPED, Fuse.FLAT, true))
                    .build());
            assertEquals(4 * 20 * 64, a.length);
        } finally {
            modules.forEach(m -> m.observeFrames(null));
        }
        assertEquals(8, max.get());
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> run(small(8).context(new ContextWindows(8, 2, 1, Schedule.LOOPED, Fuse.FLAT, true))
                        .build()));
        assertTrue(e.getMessage().contains("closed_loop"), e.getMessage());
    }

    @Test
    void promptTravelChangesExactlyTheFramesBetweenKeyFrames() {
        AnimationPipeline pipeline = new AnimationPipeline(model);
        try (NDManager m = model.manager().newSubManager()) {
            List<String> warnings = new ArrayList<>();
            NDArray red = pipeline.encodePrompt(small(8).prompt("a red circle").build(), m, warnings); // (1, S, C)
            NDArray blue =
                    pipeline.encodePrompt(small(8).prompt("a blue square").build(), m, warnings);
            NDArray travel = pipeline.encodePrompt(
                    small(8).prompt(null)
                            .promptMap(Map.of(0, "a red circle", 4, "a blue square"))
                            .build(),
                    m,
                    warnings); // (1, F, S, C)
            assertEquals(4, travel.getShape().dimension());
            assertEquals(8, travel.getShape().get(1));
            float[] r = red.toFloatArray();
            float[] b = blue.toFloatArray();
            assertFalse(Arrays.equals(r, b));
            for (int f = 0; f < 8; f++) {
                float[] got = travel.get(":, " + f).toFloatArray();
                double alpha = f >= 4 ? 1 : f / 4.0;
                float[] want = new float[r.length];
                for (int i = 0; i < r.length; i++) {
                    want[i] = (float) ((1 - alpha) * r[i] + alpha * b[i]);
                }
                assertClose(want, got, 1e-6, 1e-6, "frame " + f);
            }
            assertArrayEquals(r, travel.get(":, 0").toFloatArray(), "key frame 0 is exactly its prompt");
            assertArrayEquals(b, travel.get(":, 6").toFloatArray(), "after the last key frame: its prompt");
            // with guidance: negative first, repeated per frame
            NDArray cfg = pipeline.encodePrompt(
                    small(8).guidanceScale(7.5)
                            .promptMap(Map.of(0, "a red circle"))
                            .build(),
                    m,
                    warnings);
            assertEquals(2, cfg.getShape().get(0));
            assertEquals(8, cfg.getShape().get(1));
        }
        // a one-entry map conditions every frame like the plain prompt
        float[] plain = run(small(4).prompt("a red circle").build());
        float[] map =
                run(small(4).prompt(null).promptMap(Map.of(0, "a red circle")).build());
        assertClose(plain, map, 1e-5, 1e-5, "single key frame");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> run(small(4).promptMap(Map.of(2, "late start")).build()));
        assertTrue(e.getMessage().contains("frame 0"), e.getMessage());
    }

    @Test
    void motionScaleOneEqualsTheDefault() {
        float[] standard = run(small(4).build());
        assertArrayEquals(standard, run(small(4).motionScale(1.0).build()));
        assertFalse(Arrays.equals(standard, run(small(4).motionScale(0.5).build())), "scale 0.5 changes the motion");
    }

    @Test
    void videoToVideoAtStrengthZeroReturnsTheInputAfterTheVaeRoundTrip() {
        AnimationPipeline pipeline = new AnimationPipeline(model);
        try (NDManager m = model.manager().newSubManager()) {
            NDArray video = m.arange(0f, 4 * 3 * 64 * 64)
                    .reshape(1, 3, 4, 64, 64)
                    .mul(0.013)
                    .sin(); // (1, 3, F, H, W) in [-1, 1]
            List<Integer> steps = new ArrayList<>();
            StepListener count = new StepListener() {
                @Override
                public void onStep(int step, int total) {
                    steps.add(total);
                }
            };
            AnimationResult r0 =
                    pipeline.run(small(4).steps(4).video(video, 0.0).build(), count, true);
            assertTrue(steps.isEmpty(), "strength 0 runs no denoising step");
            NDArray z = model.vae().scale(model.vae().encodeVideo(video, 1)); // (1, 4, F, h, w)
            assertClose(z.toFloatArray(), r0.latents(), 1e-5, 1e-5, "latents");
            Frames roundTrip = pipeline.decode(z, 1);
            assertClose(roundTrip.toFloatCHW(), r0.frames().toFloatCHW(), 1e-5, 1e-5, "frames");

            AnimationResult half =
                    pipeline.run(small(4).steps(4).video(video, 0.5).build(), count, false);
            assertEquals(List.of(2, 2), steps, "strength 0.5 runs the last half of the schedule");
            assertFalse(Arrays.equals(r0.latents(), half.latents()));
        }
    }

    @Test
    void freeInitRepeatsTheLoopAndOneIterationEqualsNone() {
        List<Integer> totals = new ArrayList<>();
        StepListener count = new StepListener() {
            @Override
            public void onStep(int step, int total) {
                totals.add(total);
            }
        };
        float[] plain = run(small(4).build());
        assertArrayEquals(plain, run(small(4).freeInit(FreeInit.defaults(1)).build()));
        float[] twice = new AnimationPipeline(model)
                .run(
                        small(4).steps(4)
                                .freeInit(new FreeInit(2, "butterworth", 4, 0.25, 0.25, true))
                                .build(),
                        count,
                        false)
                .latents();
        assertEquals(List.of(2, 2, 4, 4, 4, 4), totals, "fast sampling: 2 then 4 steps");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> run(small(4).scheduler("euler")
                        .timestepSpacing("leading")
                        .freeInit(FreeInit.defaults(2))
                        .build()));
        assertTrue(e.getMessage().contains("free_init"), e.getMessage());
        assertFalse(Arrays.equals(twice, run(small(4).steps(4).build())));
    }

    @Test
    void fewStepSchedulersRun() {
        float[] lcm = run(small(4).scheduler("lcm").build());
        assertArrayEquals(lcm, run(small(4).scheduler("lcm").build()), "seeded LCM noise is reproducible");
        float[] lightning =
                run(small(4).scheduler("euler").timestepSpacing("trailing").build());
        assertFalse(Arrays.equals(lightning, run(small(4).scheduler("euler").build())), "trailing differs");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> run(small(4).timestepSpacing("even").build()));
        assertTrue(e.getMessage().contains("timestep_spacing"), e.getMessage());
    }
}
