package io.animatediff.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.weights.SafetensorsWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA merges: exact arithmetic, exact restoration, the formats users bring. */
class LoraMergerTest {
    private static final String Q = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight";
    private static final String TE_Q = "text_model.encoder.layers.0.self_attn.q_proj.weight";
    private static final String MOTION_Q =
            "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.to_q.weight";

    @TempDir
    static Path dir;

    private static AnimateDiffModel model;
    private static NDManager files;

    @BeforeAll
    static void load() throws Exception {
        TinyModels.writeBaseModel(dir.resolve("base"), 0);
        TinyModels.writeMotionModule(dir.resolve("motion.safetensors"), MotionModuleConfig.tiny(false), 1, true);
        model = ModelLoader.load(
                dir.resolve("base"),
                dir.resolve("motion.safetensors"),
                MotionModuleConfig.MotionNorm.OFFICIAL,
                List.of());
        files = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        model.close();
        files.close();
    }

    private static Path kohya(String name, int rank, float alpha) throws Exception {
        Map<String, NDArray> t = new LinkedHashMap<>();
        String u = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
        t.put(u + ".lora_down.weight", files.randomNormal(new Shape(rank, 32)));
        t.put(u + ".lora_up.weight", files.randomNormal(new Shape(32, rank)));
        t.put(u + ".alpha", files.create(alpha));
        String te = "lora_te_text_model_encoder_layers_0_self_attn_q_proj";
        t.put(te + ".lora_down.weight", files.randomNormal(new Shape(rank, 32)));
        t.put(te + ".lora_up.weight", files.randomNormal(new Shape(32, rank)));
        Path p = dir.resolve(name);
        SafetensorsWriter.write(p, t, Map.of());
        return p;
    }

    private static Map<String, float[]> snapshot() {
        Map<String, float[]> out = new HashMap<>();
        model.unet()
                .namedTensors()
                .forEach((k, p) -> out.put("unet." + k, p.get().toFloatArray()));
        model.textEncoder().namedTensors().forEach((k, p) -> {
            if (!p.isBuffer()) {
                out.put("te." + k, p.get().toFloatArray());
            }
        });
        return out;
    }

    @Test
    void mergeAddsScaledLowRankProductAndCloseRestoresExactly() throws Exception {
        Path file = kohya("kohya.safetensors", 4, 2f);
        Map<String, float[]> before = snapshot();
        Param q = model.unet().namedTensors().get(Q);
        NDArray original = q.get();
        try (LoraMerger.Merge merge = LoraMerger.merge(model, new LoraSpec(file, 0.5))) {
            assertEquals(2, merge.targets());
            try (var src = io.animatediff.engine.weights.TensorSources.open(file);
                    NDManager m = NDManager.newBaseManager()) {
                String u = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
                NDArray expected = m.create(before.get("unet." + Q), new Shape(32, 32))
                        .add(src.load(u + ".lora_up.weight", m)
                                .matMul(src.load(u + ".lora_down.weight", m))
                                .mul(0.5 * 2.0 / 4));
                assertArrayEquals(expected.toFloatArray(), q.get().toFloatArray(), 1e-5f);
            }
            Map<String, float[]> during = snapshot();
            for (Map.Entry<String, float[]> e : before.entrySet()) {
                boolean targeted = e.getKey().equals("unet." + Q) || e.getKey().equals("te." + TE_Q);
                assertEquals(!targeted, java.util.Arrays.equals(e.getValue(), during.get(e.getKey())), e.getKey());
            }
        }
        assertSame(original, q.get(), "the original array object is back");
        Map<String, float[]> after = snapshot();
        before.forEach((k, v) -> assertArrayEquals(v, after.get(k), k));
    }

    @Test
    void scaleZeroChangesNothingAndTwoLorasStack() throws Exception {
        Map<String, float[]> before = snapshot();
        try (LoraMerger.Merge m = LoraMerger.merge(model, new LoraSpec(kohya("zero.safetensors", 2, 1f), 0.0))) {
            snapshot().forEach((k, v) -> assertArrayEquals(before.get(k), v, k));
        }
        Path a = kohya("a.safetensors", 2, 2f);
        Path b = kohya("b.safetensors", 4, 4f);
        try (LoraMerger.Merge ma = LoraMerger.merge(model, new LoraSpec(a, 1.0));
                LoraMerger.Merge mb = LoraMerger.merge(model, new LoraSpec(b, 1.0))) {
            float[] both = model.unet().namedTensors().get(Q).get().toFloatArray();
            assertFalse(java.util.Arrays.equals(before.get("unet." + Q), both));
        }
        snapshot().forEach((k, v) -> assertArrayEquals(before.get(k), v, k));
    }

    @Test
    void motionLoraInTheAnimateDiffLayoutMerges() throws Exception {
        String base = "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0"
                + ".processor.to_q_lora.";
        Map<String, NDArray> t = new LinkedHashMap<>();
        t.put(base + "down.weight", files.randomNormal(new Shape(4, 32)));
        t.put(base + "up.weight", files.randomNormal(new Shape(32, 4)));
        Path p = dir.resolve("motion-lora.safetensors");
        SafetensorsWriter.write(p, t, Map.of());
        float[] before = model.unet().namedTensors().get(MOTION_Q).get().toFloatArray();
        try (LoraMerger.Merge m = LoraMerger.merge(model, new LoraSpec(p, 0.0))) {
            assertArrayEquals(
                    before, model.unet().namedTensors().get(MOTION_Q).get().toFloatArray());
        }
        try (LoraMerger.Merge m = LoraMerger.merge(model, new LoraSpec(p, 1.0))) {
            assertEquals(1, m.targets());
            assertFalse(java.util.Arrays.equals(
                    before, model.unet().namedTensors().get(MOTION_Q).get().toFloatArray()));
        }
        assertArrayEquals(
                before, model.unet().namedTensors().get(MOTION_Q).get().toFloatArray());
    }

    @Test
    void unknownKeysAreRefusedNamingThemAndTheFile() throws Exception {
        Map<String, NDArray> t = new LinkedHashMap<>();
        t.put("lora_unet_no_such_block_to_q.lora_down.weight", files.randomNormal(new Shape(2, 32)));
        t.put("lora_unet_no_such_block_to_q.lora_up.weight", files.randomNormal(new Shape(32, 2)));
        Path p = dir.resolve("bad-lora.safetensors");
        SafetensorsWriter.write(p, t, Map.of());
        Map<String, float[]> before = snapshot();
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> LoraMerger.merge(model, new LoraSpec(p, 1.0)));
        assertTrue(e.getMessage().contains("bad-lora.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("no_such_block"), e.getMessage());
        snapshot().forEach((k, v) -> assertArrayEquals(before.get(k), v, k));
    }

    @Test
    void loraSpecParsesScales() {
        assertEquals(new LoraSpec(Path.of("x.safetensors"), 0.7), LoraSpec.parse("x.safetensors:0.7"));
        assertEquals(new LoraSpec(Path.of("x.safetensors"), 1.0), LoraSpec.parse("x.safetensors"));
        assertEquals(new LoraSpec(Path.of("C:dir"), 1.0), LoraSpec.parse("C:dir"));
        assertEquals(-1e-1, LoraSpec.parse("y:-1e-1").scale());
    }
}
