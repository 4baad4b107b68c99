package io.animatediff.engine.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.nn.StateDict;
import io.animatediff.engine.nn.WeightLoadException;
import io.animatediff.engine.nn.WeightLoader;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The paper's construction: an inflated UNet with zero motion output is the image UNet per frame. */
class InflatedUNetInvariantTest {
    private static final int FRAMES = 4;
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private UNet3DConditionModel base() {
        UNet3DConditionModel base = new UNet3DConditionModel(UNet2DConditionConfig.tiny(), null);
        base.initialize(manager, 7);
        return base;
    }

    /** The inflated UNet with the base's 2D weights and fresh (zero proj_out) motion modules. */
    private UNet3DConditionModel inflate(UNet3DConditionModel base, MotionModuleConfig motion) {
        UNet3DConditionModel video = new UNet3DConditionModel(UNet2DConditionConfig.tiny(), motion);
        WeightLoader.load(
                video, StateDict.of(base, "base unet"), manager, k -> !k.contains("motion_modules."), k -> false);
        video.initialize(manager, 11); // only the motion modules are still unset
        return video;
    }

    @Test
    void inflationCopiesEvery2DWeightUnchanged() {
        UNet3DConditionModel base = base();
        UNet3DConditionModel video = inflate(base, MotionModuleConfig.tiny(true));
        Map<String, Param> b = base.namedTensors();
        Map<String, Param> v = video.namedTensors();
        int compared = 0;
        for (Map.Entry<String, Param> e : b.entrySet()) {
            NDArray original = e.getValue().get();
            NDArray copied = v.get(e.getKey()).get();
            assertArrayEquals(original.toFloatArray(), copied.toFloatArray(), e.getKey());
            compared++;
        }
        assertEquals(b.size(), compared);
        long motionKeys =
                v.keySet().stream().filter(k -> k.contains("motion_modules.")).count();
        assertEquals(v.size() - b.size(), motionKeys, "the inflated UNet adds motion-module tensors only");
    }

    @Test
    void zeroMotionOutputEqualsTheBaseUNetFrameByFrame() {
        UNet3DConditionModel base = base();
        for (MotionModuleConfig motion :
                new MotionModuleConfig[] {MotionModuleConfig.tiny(true), MotionModuleConfig.tiny(false)}) {
            UNet3DConditionModel video = inflate(base, motion);
            try (NDManager step = manager.newSubManager()) {
                step.getEngine().setRandomSeed(3);
                NDArray latents = step.randomNormal(new Shape(1, 4, FRAMES, 8, 8));
                NDArray text = step.randomNormal(new Shape(1, 5, 32));
                NDArray t = step.create(new float[] {501f});
                NDArray out = video.forward(latents, t, text); // (1, 4, F, 8, 8)
                assertEquals(new Shape(1, 4, FRAMES, 8, 8), out.getShape());
                for (int f = 0; f < FRAMES; f++) {
                    NDArray frame = latents.get(new NDIndex(":, :, {}:{}", f, f + 1)); // (1, 4, 1, 8, 8)
                    NDArray expected = base.forward(frame, t, text);
                    NDArray actual = out.get(new NDIndex(":, :, {}:{}", f, f + 1));
                    assertClose(expected, actual, 1e-5, 1e-4, "frame " + f);
                }
            }
        }
    }

    @Test
    void nonZeroMotionModulesMixFrames() {
        UNet3DConditionModel video = inflate(base(), MotionModuleConfig.tiny(false));
        // give proj_out weights so the temporal attention reaches the output
        video.namedTensors().forEach((k, p) -> {
            if (k.contains("proj_out") && k.contains("motion_modules")) {
                p.set(manager.randomNormal(p.shape()).mul(0.1));
            }
        });
        try (NDManager step = manager.newSubManager()) {
            NDArray latents = step.randomNormal(new Shape(1, 4, FRAMES, 8, 8));
            NDArray text = step.randomNormal(new Shape(1, 5, 32));
            NDArray t = step.create(new float[] {10f});
            NDArray out = video.forward(latents, t, text);
            // change only the last frame: earlier frames must change too (temporal attention)
            NDArray changed = latents.duplicate();
            changed.set(new NDIndex(":, :, {}", FRAMES - 1), 0f);
            NDArray out2 = video.forward(changed, t, text);
            NDArray firstDiff = out.get(new NDIndex(":, :, 0")).sub(out2.get(new NDIndex(":, :, 0")));
            assertTrue(firstDiff.abs().max().getFloat() > 1e-4, "frame 0 must depend on frame F-1");
        }
    }

    @Test
    void tooManyFramesIsRefusedWithTheLimit() {
        UNet3DConditionModel video =
                inflate(base(), MotionModuleConfig.tiny(false).withMaxFrames(4));
        try (NDManager step = manager.newSubManager()) {
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> video.forward(
                            step.zeros(new Shape(1, 4, 5, 8, 8)), step.create(1f), step.zeros(new Shape(1, 5, 32))));
            assertTrue(e.getMessage().contains("at most 4 frames"), e.getMessage());
        }
    }

    @Test
    void strictLoadingListsMissingAndUnexpectedKeys() {
        UNet3DConditionModel base = base();
        StateDict full = StateDict.of(base, "test checkpoint");
        StateDict broken = full.renamed(k -> k.equals("conv_in.weight") ? "conv_in.wieght" : k);
        UNet3DConditionModel fresh = new UNet3DConditionModel(UNet2DConditionConfig.tiny(), null);
        WeightLoadException e =
                assertThrows(WeightLoadException.class, () -> WeightLoader.load(fresh, broken, manager));
        assertEquals(java.util.List.of("conv_in.weight"), e.missing());
        assertEquals(java.util.List.of("conv_in.wieght"), e.unexpected());
        assertTrue(e.getMessage().contains("conv_in.wieght"), e.getMessage());
    }

    @Test
    void forwardDoesNotLeakArraysIntoTheModelManager() {
        UNet3DConditionModel video = inflate(base(), MotionModuleConfig.tiny(true));
        int before = countArrays(manager);
        for (int i = 0; i < 3; i++) {
            try (NDManager step = manager.newSubManager()) {
                video.forward(
                        step.randomNormal(new Shape(1, 4, FRAMES, 8, 8)),
                        step.create(new float[] {100f}),
                        step.randomNormal(new Shape(1, 5, 32)));
            }
        }
        assertEquals(before, countArrays(manager), "arrays created during forward must belong to the step");
    }

    @Test
    void forwardKeepsOnlyItsOutputAliveInTheStepManager() {
        UNet3DConditionModel video = inflate(base(), MotionModuleConfig.tiny(true));
        try (NDManager step = manager.newSubManager()) {
            NDArray latents = step.randomNormal(new Shape(1, 4, FRAMES, 8, 8));
            NDArray t = step.create(new float[] {100f});
            NDArray text = step.randomNormal(new Shape(1, 5, 32));
            int inputs = countArrays(step);
            NDArray out = video.forward(latents, t, text);
            int alive = countArrays(step) - inputs;
            // every block (resnet, attention, transformer, motion module, upsampler) and the UNet itself
            // close their intermediates on return: only the output stays (hundreds without the scopes)
            assertEquals(1, alive, "arrays left alive by one forward");
            assertEquals(new Shape(1, 4, FRAMES, 8, 8), out.getShape());
        }
    }

    private static int countArrays(NDManager m) {
        return ((ai.djl.ndarray.BaseNDManager) m).getManagedArrays().size();
    }

    static void assertClose(NDArray expected, NDArray actual, double atol, double rtol, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what + ": shape");
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            double tol = atol + rtol * Math.abs(e[i]);
            if (Math.abs(e[i] - a[i]) > tol) {
                throw new AssertionError(what + ": element " + i + " expected " + e[i] + " got " + a[i]);
            }
        }
    }
}
