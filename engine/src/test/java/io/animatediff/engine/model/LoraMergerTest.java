package io.animatediff.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA merges on a loaded tiny model: W' = W + scale * alpha / rank * up @ down on exactly the
 * targeted weights (kohya, PEFT, MotionLoRA files), stacking, and a bit-exact restore on close.
 */
class LoraMergerTest {
    private static final int RANK = 4;
    private static final float ALPHA = 2f;
    private static final String UNET_Q = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight";
    private static final String UNET_K2 = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight";
    private static final String TEXT_Q = "text_model.encoder.layers.0.self_attn.q_proj.weight";
    private static final String MOTION_ATTN =
            "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.";

    @TempDir
    static Path dir;

    private static AnimateDiffModel model;
    private static Path kohya;
    private static Path kohya2;
    private static Path peft;
    private static Path motionLora;
    /** Every tensor of each LoRA file, by file and key. */
    private static final Map<Path, Map<String, float[]>> LORA = new LinkedHashMap<>();

    private static float[] baseline;

    @BeforeAll
    static void load() throws IOException {
        Path base = dir.resolve("base");
        TinyModels.writeBaseModel(base, 9);
        Path motion = dir.resolve("motion.safetensors");
        TinyModels.writeMotionModule(motion, MotionModuleConfig.tiny(false), 109, true);
        model = ModelLoader.load(base, motion, MotionModuleConfig.MotionNorm.OFFICIAL, List.of());
        Random random = new Random(1);
        kohya = write(
                "kohya.safetensors",
                random,
                List.of(
                        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
                        "lora_te_text_model_encoder_layers_0_self_attn_q_proj"),
                Format.KOHYA);
        kohya2 = write(
                "kohya2.safetensors",
                random,
                List.of("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"),
                Format.KOHYA);
        peft = write(
                "peft.safetensors",
                random,
                List.of("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k"),
                Format.PEFT);
        List<String> motionModules = new ArrayList<>();
        for (String attention : new String[] {"0", "1"}) {
            for (String proj : new String[] {"to_q", "to_k", "to_v", "to_out"}) {
                motionModules.add(MOTION_ATTN + attention + ".processor." + proj);
            }
        }
        motionLora = write("motion-lora.safetensors", random, motionModules, Format.MOTION_LORA);
        baseline = latents();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private enum Format {
        KOHYA,
        PEFT,
        MOTION_LORA
    }

    /** One LoRA file on 32x32 weights: per module a (r, 32) down, a (32, r) up, alpha in kohya files. */
    private static Path write(String name, Random random, List<String> modules, Format format) throws IOException {
        Path file = dir.resolve(name);
        Map<String, float[]> values = new LinkedHashMap<>();
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (String module : modules) {
                int cout = 32;
                int cin = 32;
                float[] down = gaussian(random, RANK * cin, 0.5);
                float[] up = gaussian(random, cout * RANK, 0.5);
                String[] keys = switch (format) {
                    case KOHYA -> new String[] {".lora_down.weight", ".lora_up.weight", ".alpha"};
                    case PEFT -> new String[] {".lora_A.weight", ".lora_B.weight", null};
                    case MOTION_LORA -> new String[] {"_lora.down.weight", "_lora.up.weight", null};
                };
                tensors.put(module + keys[0], m.create(down, new Shape(RANK, cin)));
                values.put(module + keys[0], down);
                tensors.put(module + keys[1], m.create(up, new Shape(cout, RANK)));
                values.put(module + keys[1], up);
                if (keys[2] != null) {
                    tensors.put(module + keys[2], m.create(ALPHA));
                }
            }
            SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
        }
        LORA.put(file, values);
        return file;
    }

    private static float[] gaussian(Random random, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextGaussian() * std);
        }
        return v;
    }

    private static float[] latents() {
        AnimationParams p = AnimationParams.builder()
                .prompt("a red circle moving left")
                .frames(3)
                .size(64, 64)
                .steps(2)
                .seed(5)
                .build();
        return new AnimationPipeline(model).run(p, StepListener.NONE, false).latents();
    }

    /** Every UNet and text-encoder parameter (buffers are recomputed, never merged), copied out. */
    private static Map<String, float[]> snapshot() {
        Map<String, float[]> out = new LinkedHashMap<>();
        model.unet().namedTensors().forEach((k, p) -> {
            if (!p.isBuffer()) {
                out.put("unet:" + k, p.get().toFloatArray());
            }
        });
        model.textEncoder().namedTensors().forEach((k, p) -> {
            if (!p.isBuffer()) {
                out.put("text:" + k, p.get().toFloatArray());
            }
        });
        return out;
    }

    private static void assertBitExact(Map<String, float[]> expected, Map<String, float[]> actual, Set<String> except) {
        assertEquals(expected.keySet(), actual.keySet());
        int compared = 0;
        for (String k : expected.keySet()) {
            if (!except.contains(k)) {
                assertArrayEquals(expected.get(k), actual.get(k), k + " must be untouched, bit for bit");
                compared++;
            }
        }
        assertTrue(compared > 100, "compared " + compared + " weights");
    }

    /** w (Cout, Cin) + sum of factor_i * up_i (Cout, r) @ down_i (r, Cin), in double. */
    private static float[] expectedMerge(
            float[] w, int cout, int cin, double[] factors, float[][] ups, float[][] downs) {
        float[] out = new float[w.length];
        for (int i = 0; i < cout; i++) {
            for (int j = 0; j < cin; j++) {
                double v = w[i * cin + j];
                for (int l = 0; l < factors.length; l++) {
                    double dot = 0;
                    for (int r = 0; r < RANK; r++) {
                        dot += (double) ups[l][i * RANK + r] * downs[l][r * cin + j];
                    }
                    v += factors[l] * dot;
                }
                out[i * cin + j] = (float) v;
            }
        }
        return out;
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        MotionModuleFileTest.assertClose(expected, actual, 1e-5, 1e-5, what);
    }

    private static float[] lora(Path file, String key) {
        return LORA.get(file).get(key);
    }

    @Test
    void scaleZeroEqualsNoLoraAndScaleOneChangesTheOutput() throws IOException {
        try (LoraMerger.Merge merge = LoraMerger.merge(model, new LoraSpec(kohya, 0.0))) {
            assertEquals(2, merge.targets());
            assertArrayEquals(baseline, latents(), "kohya LoRA at scale 0");
        }
        try (LoraMerger.Merge merge = LoraMerger.merge(model, new LoraSpec(peft, 0.0))) {
            assertArrayEquals(baseline, latents(), "PEFT LoRA at scale 0");
        }
        try (LoraMerger.Merge merge = LoraMerger.merge(model, new LoraSpec(kohya, 1.0))) {
            assertFalse(Arrays.equals(baseline, latents()), "kohya LoRA at scale 1 changes the animation");
        }
        assertArrayEquals(baseline, latents(), "after close the model animates as before");
    }

    @Test
    void kohyaMergeChangesExactlyTheTargetedWeightsAndCloseRestoresThem() throws IOException {
        Map<String, float[]> before = snapshot();
        double scale = 0.7;
        try (LoraMerger.Merge merge = LoraMerger.merge(model, new LoraSpec(kohya, scale))) {
            assertEquals(2, merge.targets());
            assertTrue(merge.description().contains("kohya"), merge.description());
            Map<String, float[]> after = snapshot();
            assertBitExact(before, after, Set.of("unet:" + UNET_Q, "text:" + TEXT_Q));
            double factor = scale * ALPHA / RANK;
            String u = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
            float[] want = expectedMerge(
                    before.get("unet:" + UNET_Q),
                    32,
                    32,
                    new double[] {factor},
                    new float[][] {lora(kohya, u + ".lora_up.weight")},
                    new float[][] {lora(kohya, u + ".lora_down.weight")});
            assertClose(want, after.get("unet:" + UNET_Q), "UNet attn1.to_q = W + 0.7 * 2/4 * up @ down");
            assertFalse(Arrays.equals(before.get("unet:" + UNET_Q), after.get("unet:" + UNET_Q)));
            String t = "lora_te_text_model_encoder_layers_0_self_attn_q_proj";
            float[] wantText = expectedMerge(
                    before.get("text:" + TEXT_Q),
                    32,
                    32,
                    new double[] {factor},
                    new float[][] {lora(kohya, t + ".lora_up.weight")},
                    new float[][] {lora(kohya, t + ".lora_down.weight")});
            assertClose(wantText, after.get("text:" + TEXT_Q), "text encoder q_proj");
        }
        assertBitExact(before, snapshot(), Set.of());
    }

    @Test
    void peftWithoutAlphaMergesWithTheScaleAlone() throws IOException {
        Map<String, float[]> before = snapshot();
        try (LoraMerger.Merge merge = LoraMerger.merge(model, new LoraSpec(peft, 0.5))) {
            assertEquals(1, merge.targets());
            Map<String, float[]> after = snapshot();
            assertBitExact(before, after, Set.of("unet:" + UNET_K2));
            String p = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k";
            float[] want = expectedMerge(
                    before.get("unet:" + UNET_K2),
                    32,
                    32,
                    new double[] {0.5},
                    new float[][] {lora(peft, p + ".lora_B.weight")},
                    new float[][] {lora(peft, p + ".lora_A.weight")});
            assertClose(want, after.get("unet:" + UNET_K2), "attn2.to_k = W + 0.5 * B @ A");
        }
        assertBitExact(before, snapshot(), Set.of());
    }

    @Test
    void twoLorasStackAndUnwindToTheOriginal() throws IOException {
        Map<String, float[]> before = snapshot();
        String u = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
        try (LoraMerger.Merge first = LoraMerger.merge(model, new LoraSpec(kohya, 0.8));
                LoraMerger.Merge second = LoraMerger.merge(model, new LoraSpec(kohya2, -0.3))) {
            float[] want = expectedMerge(
                    before.get("unet:" + UNET_Q),
                    32,
                    32,
                    new double[] {0.8 * ALPHA / RANK, -0.3 * ALPHA / RANK},
                    new float[][] {lora(kohya, u + ".lora_up.weight"), lora(kohya2, u + ".lora_up.weight")},
                    new float[][] {lora(kohya, u + ".lora_down.weight"), lora(kohya2, u + ".lora_down.weight")});
            assertClose(want, snapshot().get("unet:" + UNET_Q), "both updates on attn1.to_q");
        }
        assertBitExact(before, snapshot(), Set.of());
        assertArrayEquals(baseline, latents(), "the cached model is not corrupted");
    }

    @Test
    void unknownKeysAreRefusedAndLeaveTheModelAlone() throws IOException {
        Map<String, float[]> before = snapshot();
        Random random = new Random(2);
        Path noModule = write(
                "no-module.safetensors", random, List.of("lora_unet_down_blocks_7_attentions_0_proj_in"), Format.KOHYA);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> LoraMerger.merge(model, new LoraSpec(noModule, 1.0)));
        assertTrue(e.getMessage().contains(noModule.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("lora_unet_down_blocks_7_attentions_0_proj_in"), e.getMessage());
        assertTrue(e.getMessage().contains("name no module of the target model"), e.getMessage());

        Path foreign = dir.resolve("foreign.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            SafetensorsWriter.write(
                    foreign, Map.of("encoder.blocks.0.weight", m.ones(new Shape(2, 2))), Map.of("format", "pt"));
        }
        e = assertThrows(IllegalArgumentException.class, () -> LoraMerger.merge(model, new LoraSpec(foreign, 1.0)));
        assertTrue(e.getMessage().contains("no known LoRA layout"), e.getMessage());
        assertTrue(e.getMessage().contains("encoder.blocks.0.weight"), e.getMessage());
        assertBitExact(before, snapshot(), Set.of());
    }

    @Test
    void motionLoraAtScaleZeroEqualsNoMotionLora() throws IOException {
        Map<String, float[]> before = snapshot();
        try (LoraMerger.Merge merge = LoraMerger.merge(model, new LoraSpec(motionLora, 0.0))) {
            assertEquals(8, merge.targets());
            assertTrue(merge.description().contains("MotionLoRA"), merge.description());
            assertArrayEquals(baseline, latents(), "MotionLoRA at scale 0");
        }
        try (LoraMerger.Merge merge = LoraMerger.merge(model, new LoraSpec(motionLora, 1.0))) {
            Map<String, float[]> after = snapshot();
            Param toV = model.unet().namedTensors().get(MOTION_ATTN + "1.to_v.weight");
            String key = MOTION_ATTN + "1.processor.to_v_lora";
            float[] want = expectedMerge(
                    before.get("unet:" + MOTION_ATTN + "1.to_v.weight"),
                    32,
                    32,
                    new double[] {1.0},
                    new float[][] {lora(motionLora, key + ".up.weight")},
                    new float[][] {lora(motionLora, key + ".down.weight")});
            assertClose(want, toV.get().toFloatArray(), "motion attention_blocks.1.to_v");
            assertEquals(before.size(), after.size());
            assertFalse(Arrays.equals(baseline, latents()), "MotionLoRA at scale 1 changes the motion");
        }
        assertBitExact(before, snapshot(), Set.of());
    }

    @Test
    void officialAndDiffusersConvertedMotionLorasStackWithTheirScales() throws IOException {
        Map<String, float[]> before = snapshot();
        // the diffusers converter's names: unet. prefix, no temporal_transformer, attention_blocks.K -> attnK+1
        String converted = "unet.down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.processor.to_q";
        Path diffusers =
                write("motion-lora-diffusers.safetensors", new Random(3), List.of(converted), Format.MOTION_LORA);
        String official = MOTION_ATTN + "0.processor.to_q_lora";
        try (LoraMerger.Merge first = LoraMerger.merge(model, new LoraSpec(motionLora, 0.5));
                LoraMerger.Merge second = LoraMerger.merge(model, new LoraSpec(diffusers, 0.25))) {
            assertTrue(second.description().contains("MotionLoRA"), second.description());
            assertEquals(1, second.targets());
            float[] want = expectedMerge(
                    before.get("unet:" + MOTION_ATTN + "0.to_q.weight"),
                    32,
                    32,
                    new double[] {0.5, 0.25},
                    new float[][] {
                        lora(motionLora, official + ".up.weight"), lora(diffusers, converted + "_lora.up.weight")
                    },
                    new float[][] {
                        lora(motionLora, official + ".down.weight"), lora(diffusers, converted + "_lora.down.weight")
                    });
            assertClose(
                    want,
                    model.unet()
                            .namedTensors()
                            .get(MOTION_ATTN + "0.to_q.weight")
                            .get()
                            .toFloatArray(),
                    "two MotionLoRAs on attention_blocks.0.to_q");
        }
        assertBitExact(before, snapshot(), Set.of());
    }
}
