package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.animatediff.engine.convert.MotionKeys;
import io.animatediff.engine.model.BaseModelFiles;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.nn.WeightLoader;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.unet.UNet3DConditionModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** One 40-step run of motion-module training on synthetic clips, then its invariants. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MotionTrainerTest {
    private static final int STEPS = 40;
    private static final int WINDOW = 8;

    private Path out;
    private final List<Double> losses = new ArrayList<>();
    private final List<Integer> arrayCounts = new ArrayList<>();
    private final Map<String, byte[]> frozenBefore = new LinkedHashMap<>();
    private final Map<String, byte[]> frozenAfter = new LinkedHashMap<>();
    private final Map<String, byte[]> motionBefore = new LinkedHashMap<>();
    private final Map<String, byte[]> motionAfter = new LinkedHashMap<>();

    @BeforeAll
    void train() throws Exception {
        out = Files.createTempDirectory("animatediff-train");
        TrainingConfig cfg =
                TrainingFixture.config(out).steps(STEPS).learningRate(3e-3).build();
        try (MotionTrainer t = MotionTrainer.open(cfg, TrainingFixture.data(), TrainingListener.NONE)) {
            snapshot(t, frozenBefore, motionBefore);
            for (int i = 0; i < STEPS; i++) {
                losses.add(t.step().loss());
                arrayCounts.add(t.model().manager().getManagedArrays().size());
            }
            snapshot(t, frozenAfter, motionAfter);
        }
    }

    @AfterAll
    void cleanUp() throws Exception {
        TrainingCheckpoint.deleteTree(out);
    }

    /** Every tensor of the three models: frozen ones (VAE, text encoder, 2D UNet) and motion ones apart. */
    private static void snapshot(MotionTrainer t, Map<String, byte[]> frozen, Map<String, byte[]> motion) {
        Map<String, Module> models = Map.of(
                "unet.",
                t.model().unet(),
                "vae.",
                t.model().vae(),
                "text.",
                t.model().textEncoder());
        models.forEach((prefix, m) -> m.namedTensors().forEach((k, p) -> {
            boolean trained = t.trainableParameters().containsKey(k) && prefix.equals("unet.");
            (trained ? motion : frozen).put(prefix + k, p.get().toByteArray()); // raw bytes: bit-for-bit
        }));
    }

    @Test
    void lossDecreasesOnSyntheticClips() {
        double first =
                losses.subList(0, WINDOW).stream().mapToDouble(d -> d).average().orElseThrow();
        double last = losses.subList(STEPS - WINDOW, STEPS).stream()
                .mapToDouble(d -> d)
                .average()
                .orElseThrow();
        assertTrue(
                last < 0.85 * first,
                "mean loss of the last " + WINDOW + " steps " + last + " should be well below the first " + WINDOW
                        + " steps' " + first + ": " + losses);
    }

    @Test
    void frozenWeightsAreBitForBitUnchanged() {
        assertTrue(frozenBefore.size() > 100, "VAE, text encoder and 2D UNet tensors: " + frozenBefore.size());
        assertEquals(frozenBefore.keySet(), frozenAfter.keySet());
        frozenBefore.forEach((k, v) -> assertArrayEquals(v, frozenAfter.get(k), k));
    }

    @Test
    void motionWeightsChanged() {
        assertFalse(motionBefore.isEmpty());
        assertTrue(motionBefore.keySet().stream().allMatch(k -> MotionKeys.isMotionKey(k.substring("unet.".length()))));
        String projOut = "unet.down_blocks.0.motion_modules.0.temporal_transformer.proj_out.weight";
        for (byte b : motionBefore.get(projOut)) {
            assertEquals(0, b, "a fresh module starts with proj_out zero");
        }
        int changed = 0;
        for (byte b : motionAfter.get(projOut)) {
            changed += b != 0 ? 1 : 0;
        }
        assertTrue(changed > 0, "proj_out must have been trained");
    }

    @Test
    void nativeMemoryIsFlatAcrossSteps() {
        // after the first steps every array lives in a closed per-step scope or is updated in place
        int settled = arrayCounts.get(2);
        for (int i = 2; i < arrayCounts.size(); i++) {
            assertEquals(settled, arrayCounts.get(i), "arrays in the model's manager after step " + (i + 1));
        }
    }

    @Test
    void onlyMotionTensorsReceiveGradients(@TempDir Path dir) throws Exception {
        try (MotionTrainer t = MotionTrainer.open(
                TrainingFixture.config(dir).build(), TrainingFixture.data(), TrainingListener.NONE)) {
            t.accumulateGradients();
            int withGrad = 0;
            List<Module> models =
                    List.of(t.model().unet(), t.model().vae(), t.model().textEncoder());
            for (Module m : models) {
                for (Map.Entry<String, Param> e : m.namedTensors().entrySet()) {
                    boolean trained =
                            m == t.model().unet() && t.trainableParameters().containsKey(e.getKey());
                    PtNDArray array = (PtNDArray) e.getValue().get();
                    try (PtNDArray grad = JniUtils.getGradient(array)) {
                        if (trained) {
                            assertNotNull(grad, "motion weight " + e.getKey() + " has no gradient");
                            withGrad++;
                        } else {
                            assertNull(grad, "frozen weight " + e.getKey() + " received a gradient");
                            assertFalse(array.hasGradient(), e.getKey() + " requires a gradient");
                        }
                    }
                }
            }
            assertEquals(t.trainableParameters().size(), withGrad);
            assertTrue(
                    t.trainableParameters().keySet().stream()
                            .allMatch(k -> MotionKeys.isMotionKey(k) && !k.endsWith(".pe")),
                    "trainable: motion parameters only");
            // with proj_out zero, only proj_out's own gradient is non-zero at step 0
            PtNDArray projOut = (PtNDArray) t.trainableParameters()
                    .get("up_blocks.1.motion_modules.0.temporal_transformer.proj_out.weight")
                    .get();
            try (NDArray g = JniUtils.getGradient(projOut)) {
                assertTrue(g.abs().sum().getFloat() > 0, "proj_out gradient is zero");
            }
            t.applyGradients();
            assertEquals(1, t.stepsDone());
        }
    }

    @Test
    void stepZeroWithAFreshModuleIsTheBaseUNet(@TempDir Path dir) throws Exception {
        try (MotionTrainer t = MotionTrainer.open(
                        TrainingFixture.config(dir).build(), TrainingFixture.data(), TrainingListener.NONE);
                NDManager m = NDManager.newBaseManager();
                BaseModelFiles files = BaseModelFiles.open(TrainingFixture.base())) {
            UNet3DConditionModel base = new UNet3DConditionModel(files.unetConfig, null);
            WeightLoader.load(base, files.unet, m);
            NDArray latents = TorchRandom.randn(m, new Shape(2, 4, 6, 4, 4), 11); // (B, 4, F, h, w)
            NDArray text = TorchRandom.randn(m, new Shape(2, 77, 32), 12); // (B, S, C)
            NDArray t0 = m.create(new float[] {999, 17}); // (B)
            float[] image;
            float[] video;
            try (NDManager scope = m.newSubManager()) {
                latents.tempAttach(scope);
                image = base.forward(latents, t0, text).toFloatArray();
                video = t.model().unet().forward(latents, t0, text).toFloatArray();
            }
            Close.assertClose(video, image, 1e-6, 1e-6, "inflated UNet with a fresh module vs the image UNet");
        }
    }
}
