package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.convert.LoraKeys;
import io.animatediff.engine.convert.LoraPlan;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.LoraSpec;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.weights.SafetensorsFile;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MotionLoRA training: only the adapters move, and the saved file merges through the engine's LoRA loader. */
class MotionLoraTrainingTest {
    private static final int RANK = 4;
    private static final int STEPS = 6;
    private static final Pattern KEY = Pattern.compile(
            "^(down|up)_blocks\\.\\d+\\.motion_modules\\.\\d+\\.temporal_transformer"
                    + "\\.transformer_blocks\\.0\\.attention_blocks\\.[01]\\.processor\\.to_(q|k|v|out)_lora\\.(down|up)\\.weight$");

    @Test
    void motionLoraTrainsOnlyItsAdaptersAndMergesThroughLoraMerger(@TempDir Path out) throws Exception {
        TrainingConfig cfg = TrainingFixture.config(out)
                .motionModule(TrainingFixture.motion())
                .loraRank(RANK)
                .steps(STEPS)
                .learningRate(1e-2)
                .build();
        float[] trainedOutput;
        NDArray latents;
        NDArray text;
        NDArray timesteps;
        try (NDManager inputs = NDManager.newBaseManager();
                MotionTrainer t = MotionTrainer.open(cfg, TrainingFixture.data(), TrainingListener.NONE)) {
            UNet3DConditionModel unet = t.model().unet();
            // 1. the adapters leave the UNet's keys and parameter count alone
            UNet3DConditionModel plain = new UNet3DConditionModel(UNet2DConditionConfig.tiny(), unet.motion());
            assertEquals(plain.namedTensors().keySet(), unet.namedTensors().keySet());
            assertEquals(plain.parameterCount(), unet.parameterCount());
            int adapters = t.motionLora().size();
            long modules = unet.namedTensors().keySet().stream()
                    .filter(k -> k.endsWith("temporal_transformer.proj_out.weight"))
                    .count();
            assertEquals(6, modules, "tiny UNet: 2 down + 4 up motion modules");
            assertEquals(modules * 2 * 4, adapters, "2 attentions x 4 projections per motion module");
            assertEquals(2 * adapters, t.trainableParameters().size());
            assertTrue(t.trainableParameters().keySet().stream()
                    .allMatch(k -> KEY.matcher(k).matches()));

            Map<String, byte[]> before = snapshot(t);
            // 2. gradients reach the adapters only (the motion module is frozen too)
            t.accumulateGradients();
            for (Module m : List.of(unet, t.model().vae(), t.model().textEncoder())) {
                for (Map.Entry<String, Param> e : m.namedTensors().entrySet()) {
                    try (PtNDArray g =
                            JniUtils.getGradient((PtNDArray) e.getValue().get())) {
                        assertNull(g, "frozen " + e.getKey() + " received a gradient");
                    }
                }
            }
            for (Map.Entry<String, Param> e : t.trainableParameters().entrySet()) {
                try (PtNDArray g = JniUtils.getGradient((PtNDArray) e.getValue().get())) {
                    assertNotNull(g, "adapter " + e.getKey() + " has no gradient");
                }
            }
            t.applyGradients();
            t.train();
            assertEquals(STEPS, t.stepsDone());
            // 3. everything but the adapters is bit-for-bit unchanged; the up matrices left zero
            Map<String, byte[]> after = snapshot(t);
            before.forEach((k, v) -> assertArrayEquals(v, after.get(k), k));
            double up = 0;
            for (Map.Entry<String, Param> e : t.trainableParameters().entrySet()) {
                if (e.getKey().endsWith(".up.weight")) {
                    up += e.getValue().get().abs().sum().getFloat();
                }
            }
            assertTrue(up > 0, "the LoRA up matrices must have been trained away from zero");
            // 4. the UNet with its adapters, on a fixed input
            latents = TorchRandom.randn(inputs, new Shape(1, 4, 6, 4, 4), 21);
            text = TorchRandom.randn(inputs, new Shape(1, 77, 32), 22);
            timesteps = inputs.create(new float[] {500});
            try (NDManager scope = inputs.newSubManager()) {
                trainedOutput = unet.forward(latents, timesteps, text).toFloatArray();
            }

            // 5. the saved file is an AnimateDiff MotionLoRA that merges into the same UNet
            Path file = TrainingCheckpoint.dir(out, STEPS).resolve(TrainingCheckpoint.MOTION_LORA);
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                Map<String, long[]> shapes = new LinkedHashMap<>();
                f.keys().forEach(k -> shapes.put(k, f.info(k).shape()));
                LoraPlan plan = LoraKeys.plan(shapes, plain.namedTensors().keySet(), java.util.Set.of());
                assertEquals(LoraPlan.Format.ANIMATEDIFF_MOTION_LORA, plan.format());
                assertEquals(adapters, plan.targets().size());
            }
            try (AnimateDiffModel merged = ModelLoader.load(
                    TrainingFixture.base(),
                    TrainingFixture.motion(),
                    MotionModuleConfig.MotionNorm.OFFICIAL,
                    List.of(new LoraSpec(file, 1.0)))) {
                float[] mergedOutput;
                try (NDManager scope = inputs.newSubManager()) {
                    mergedOutput =
                            merged.unet().forward(latents, timesteps, text).toFloatArray();
                }
                Close.assertClose(mergedOutput, trainedOutput, 1e-4, 1e-3, "merged MotionLoRA vs trained adapters");
            }
            // 6. detached, the UNet is the plain motion module again
            t.motionLora().detach();
            try (AnimateDiffModel base = ModelLoader.load(
                            TrainingFixture.base(),
                            TrainingFixture.motion(),
                            MotionModuleConfig.MotionNorm.OFFICIAL,
                            List.of());
                    NDManager scope = inputs.newSubManager()) {
                float[] without = unet.forward(latents, timesteps, text).toFloatArray();
                float[] reference =
                        base.unet().forward(latents, timesteps, text).toFloatArray();
                assertArrayEquals(reference, without, "without adapters the UNet computes exactly as before");
            }
        }
    }

    private static Map<String, byte[]> snapshot(MotionTrainer t) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        Map<String, Module> models = Map.of(
                "unet.",
                t.model().unet(),
                "vae.",
                t.model().vae(),
                "text.",
                t.model().textEncoder());
        models.forEach((prefix, m) ->
                m.namedTensors().forEach((k, p) -> out.put(prefix + k, p.get().toByteArray())));
        return out;
    }
}
