package io.animatediff.engine.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.nn.LayerNorm;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.nn.StateDict;
import io.animatediff.engine.nn.WeightLoadException;
import io.animatediff.engine.nn.WeightLoader;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The CLIP text encoder: full-size layout without allocating, tiny seeded numerics, strict loading. */
class CLIPTextModelTest {
    private static NDManager manager;
    private static CLIPTextModel clip;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        clip = new CLIPTextModel(CLIPTextConfig.tiny());
        clip.initialize(manager, 3);
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    @Test
    void vitL14HasThePublishedParameterCount() {
        CLIPTextModel full = new CLIPTextModel(CLIPTextConfig.vitL14());
        assertEquals(123_060_480L, full.parameterCount());
        Param ids = full.namedTensors().get("text_model.embeddings.position_ids");
        assertTrue(ids.isBuffer(), "position_ids is a buffer, not a parameter");
        assertArrayEquals(new long[] {1, 77}, ids.shape().getShape());
    }

    @Test
    void vitL14KeysAndShapesAreTransformers() {
        Map<String, Param> keys = new CLIPTextModel(CLIPTextConfig.vitL14()).namedTensors();
        Object[][] expected = {
            {"text_model.embeddings.token_embedding.weight", new long[] {49408, 768}},
            {"text_model.embeddings.position_embedding.weight", new long[] {77, 768}},
            {"text_model.encoder.layers.0.self_attn.q_proj.weight", new long[] {768, 768}},
            {"text_model.encoder.layers.0.self_attn.k_proj.bias", new long[] {768}},
            {"text_model.encoder.layers.5.self_attn.v_proj.weight", new long[] {768, 768}},
            {"text_model.encoder.layers.11.self_attn.out_proj.bias", new long[] {768}},
            {"text_model.encoder.layers.11.layer_norm1.weight", new long[] {768}},
            {"text_model.encoder.layers.11.layer_norm2.bias", new long[] {768}},
            {"text_model.encoder.layers.11.mlp.fc1.weight", new long[] {3072, 768}},
            {"text_model.encoder.layers.11.mlp.fc1.bias", new long[] {3072}},
            {"text_model.encoder.layers.11.mlp.fc2.weight", new long[] {768, 3072}},
            {"text_model.final_layer_norm.weight", new long[] {768}},
            {"text_model.final_layer_norm.bias", new long[] {768}},
        };
        for (Object[] e : expected) {
            Param p = keys.get((String) e[0]);
            assertTrue(p != null, "missing key " + e[0]);
            assertArrayEquals((long[]) e[1], p.shape().getShape(), (String) e[0]);
        }
        assertTrue(!keys.containsKey("text_model.encoder.layers.12.mlp.fc1.weight"), "12 layers");
        assertEquals(12 * 16 + 2 + 1 + 2, keys.size(), "16 tensors per layer, 2 embeddings, 1 buffer, final norm");
    }

    @Test
    void configReadsTransformersTextEncoderConfigJson() throws Exception {
        String json = "{\"_name_or_path\": \"openai/clip-vit-large-patch14\", \"architectures\": [\"CLIPTextModel\"],"
                + " \"attention_dropout\": 0.0, \"bos_token_id\": 0, \"dropout\": 0.0, \"eos_token_id\": 2,"
                + " \"hidden_act\": \"quick_gelu\", \"hidden_size\": 768, \"initializer_factor\": 1.0,"
                + " \"initializer_range\": 0.02, \"intermediate_size\": 3072, \"layer_norm_eps\": 1e-05,"
                + " \"max_position_embeddings\": 77, \"model_type\": \"clip_text_model\", \"num_attention_heads\": 12,"
                + " \"num_hidden_layers\": 12, \"pad_token_id\": 1, \"projection_dim\": 768,"
                + " \"torch_dtype\": \"float32\", \"transformers_version\": \"4.22.0.dev0\", \"vocab_size\": 49408}";
        assertEquals(CLIPTextConfig.vitL14(), new ObjectMapper().readValue(json, CLIPTextConfig.class));
        String bad = json.replace("quick_gelu", "relu");
        Exception e = assertThrows(Exception.class, () -> new ObjectMapper().readValue(bad, CLIPTextConfig.class));
        assertTrue(String.valueOf(
                        e.getCause() == null ? e.getMessage() : e.getCause().getMessage())
                .contains("relu"));
    }

    @Test
    void embeddingsGatherTokenRowsAndAddPositionRows() {
        CLIPTextConfig cfg = CLIPTextConfig.tiny();
        int v = cfg.vocabSize();
        int c = cfg.hiddenSize();
        int p = cfg.maxPositionEmbeddings();
        try (NDManager m = manager.newSubManager()) {
            CLIPTextEmbeddings emb = new CLIPTextEmbeddings(cfg);
            float[] tok = new float[v * c];
            for (int i = 0; i < v; i++) {
                for (int j = 0; j < c; j++) {
                    tok[i * c + j] = i + j / 100f; // row i = i.jj
                }
            }
            float[] pos = new float[p * c];
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < c; j++) {
                    pos[i * c + j] = 1000f * (i + 1);
                }
            }
            emb.tokenEmbedding.weight.set(m.create(tok, new Shape(v, c)));
            emb.positionEmbedding.weight.set(m.create(pos, new Shape(p, c)));
            emb.computeBuffers(m);
            long[][] ids = {{5, 0, 99}, {42, 42, 7}};
            NDArray out = emb.forward(m.create(ids)); // (2, 3, C)
            assertEquals(new Shape(2, 3, c), out.getShape());
            float[] actual = out.toFloatArray();
            float[] expected = new float[actual.length];
            for (int b = 0; b < 2; b++) {
                for (int s = 0; s < 3; s++) {
                    for (int j = 0; j < c; j++) {
                        expected[(b * 3 + s) * c + j] = ids[b][s] + j / 100f + 1000f * (s + 1);
                    }
                }
            }
            assertClose(expected, actual, 1e-4, 1e-6);
        }
    }

    @Test
    void causalMaskMakesTokenIIndependentOfLaterTokens() {
        try (NDManager m = manager.newSubManager()) {
            long[] a = {1, 17, 33, 4, 56, 9, 10, 71, 2, 3, 44, 45, 88, 5, 6, 7};
            long[] b = a.clone();
            int changed = 9;
            b[changed] = 60;
            NDArray outA = clip.forward(m.create(new long[][] {a}));
            NDArray outB = clip.forward(m.create(new long[][] {b}));
            assertEquals(new Shape(1, 16, 32), outA.getShape());
            for (int s = 0; s < a.length; s++) {
                float[] x = outA.get(new NDIndex("0, {}", s)).toFloatArray();
                float[] y = outB.get(new NDIndex("0, {}", s)).toFloatArray();
                double diff = maxAbsDiff(x, y);
                if (s < changed) {
                    assertClose(x, y, 1e-6, 1e-6);
                } else {
                    assertTrue(diff > 1e-3, "token " + s + " must see token " + changed + " (diff " + diff + ")");
                }
            }
        }
    }

    @Test
    void causalAttentionMatchesAHandComputedExample() {
        // one head, D = 1, scale 1: q = (1, 2), k = (1, 3), v = (10, 20)
        // row 0 sees only key 0 -> 10; row 1: scores (2, 6) -> 10 + 10 * sigmoid(4)
        try (NDManager m = manager.newSubManager()) {
            NDArray q = m.create(new float[] {1, 2}, new Shape(1, 1, 2, 1));
            NDArray k = m.create(new float[] {1, 3}, new Shape(1, 1, 2, 1));
            NDArray v = m.create(new float[] {10, 20}, new Shape(1, 1, 2, 1));
            NDArray mask = CausalAttention.mask(m, 2);
            assertClose(new float[] {0, Float.NEGATIVE_INFINITY, 0, 0}, mask.toFloatArray(), 0, 0);
            float[] out = CausalAttention.attention(q, k, v, mask, 1.0).toFloatArray();
            float row1 = (float) (10 + 10 / (1 + Math.exp(-4)));
            assertClose(new float[] {10, row1}, out, 1e-5, 1e-6);
        }
    }

    @Test
    void quickGeluIsXTimesSigmoidOf1702X() {
        try (NDManager m = manager.newSubManager()) {
            float[] x = {-3, -1, 0, 0.5f, 2};
            float[] expected = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                expected[i] = (float) (x[i] / (1 + Math.exp(-1.702 * x[i])));
            }
            assertClose(expected, CLIPMLP.quickGelu(m.create(x)).toFloatArray(), 1e-6, 1e-6);
        }
    }

    @Test
    void clipSkipIsAnEarlierLayerThroughTheFinalLayerNorm() {
        try (NDManager m = manager.newSubManager()) {
            NDArray ids = m.create(new long[][] {{3, 1, 4, 1, 5, 9, 2, 6}, {2, 7, 1, 8, 2, 8, 1, 8}});
            CLIPTextTransformer t = clip.textModel;
            NDArray x = t.embeddings.forward(ids);
            NDArray mask = CausalAttention.mask(m, 8);
            NDArray afterFirst = t.encoder.layers.get(0).forward(x, mask);
            NDArray afterSecond = t.encoder.layers.get(1).forward(afterFirst, mask);
            LayerNorm fin = t.finalLayerNorm;
            assertClose(
                    fin.forward(afterSecond).toFloatArray(), clip.forward(ids).toFloatArray(), 1e-5, 1e-5);
            assertClose(
                    fin.forward(afterFirst).toFloatArray(), clip.forward(ids, 1).toFloatArray(), 1e-5, 1e-5);
            assertTrue(maxAbsDiff(
                            clip.forward(ids).toFloatArray(),
                            clip.forward(ids, 1).toFloatArray())
                    > 1e-3);
            Exception e = assertThrows(IllegalArgumentException.class, () -> clip.forward(ids, 2));
            assertTrue(e.getMessage().contains("between 0 and 1"), e.getMessage());
        }
    }

    @Test
    void badTokenIdsAreRefusedWithTheReason() {
        try (NDManager m = manager.newSubManager()) {
            Exception tooLong = assertThrows(
                    IllegalArgumentException.class, () -> clip.forward(m.zeros(new Shape(1, 17), DataType.INT64)));
            assertTrue(tooLong.getMessage().contains("S <= 16"), tooLong.getMessage());
            Exception vocab =
                    assertThrows(IllegalArgumentException.class, () -> clip.forward(m.create(new long[][] {{1, 100}})));
            assertTrue(vocab.getMessage().contains("[0, 100)"), vocab.getMessage());
            Exception floats =
                    assertThrows(IllegalArgumentException.class, () -> clip.forward(m.zeros(new Shape(1, 4))));
            assertTrue(floats.getMessage().contains("FLOAT32")
                    || floats.getMessage().contains("float32"));
            NDArray int32 = clip.forward(m.create(new int[][] {{1, 2, 3}}));
            NDArray int64 = clip.forward(m.create(new long[][] {{1, 2, 3}}));
            assertClose(int64.toFloatArray(), int32.toFloatArray(), 0, 0);
        }
    }

    @Test
    void forwardLeavesNothingOnTheWeightsManager() {
        try (NDManager weights = NDManager.newBaseManager()) {
            CLIPTextModel model = new CLIPTextModel(CLIPTextConfig.tiny());
            model.initialize(weights, 5);
            int before = ((BaseNDManager) weights).getManagedArrays().size();
            for (int i = 0; i < 3; i++) {
                try (NDManager call = weights.newSubManager()) {
                    model.forward(call.create(new long[][] {{1, 2, 3, 4}}), i % 2);
                }
            }
            assertEquals(before, ((BaseNDManager) weights).getManagedArrays().size());
        }
    }

    @Test
    void strictLoadingRoundTripsWithOrWithoutPositionIds() {
        CLIPTextConfig cfg = CLIPTextConfig.tiny();
        try (NDManager m = manager.newSubManager()) {
            NDArray ids = m.create(new long[][] {{49, 7, 7, 1, 0}});
            float[] reference = clip.forward(ids).toFloatArray();
            CLIPTextModel fresh = new CLIPTextModel(cfg);
            fresh.initialize(m, 1234);
            assertTrue(maxAbsDiff(reference, fresh.forward(ids).toFloatArray()) > 1e-3, "different seed differs");
            WeightLoader.load(fresh, StateDict.of(clip, "tiny clip"), m);
            assertClose(reference, fresh.forward(ids).toFloatArray(), 0, 0);

            CLIPTextModel noBuffer = new CLIPTextModel(cfg);
            WeightLoader.load(
                    noBuffer, StateDict.of(clip, "tiny clip").renamed(k -> k.endsWith("position_ids") ? null : k), m);
            assertClose(reference, noBuffer.forward(ids).toFloatArray(), 0, 0);

            CLIPTextModel target = new CLIPTextModel(cfg);
            String gone = "text_model.encoder.layers.1.mlp.fc2.bias";
            WeightLoadException e1 = assertThrows(
                    WeightLoadException.class,
                    () -> WeightLoader.load(
                            target, StateDict.of(clip, "tiny clip").renamed(k -> k.equals(gone) ? null : k), m));
            assertEquals(List.of(gone), e1.missing());
            assertTrue(e1.getMessage().contains(gone), e1.getMessage());

            StateDict extra = StateDict.union(
                    "tiny clip + projection",
                    StateDict.of(clip, "tiny clip"),
                    StateDict.of(new io.animatediff.engine.nn.Linear(32, 32, false), "linear")
                            .renamed(k -> "text_projection." + k));
            WeightLoadException e2 = assertThrows(WeightLoadException.class, () -> WeightLoader.load(target, extra, m));
            assertEquals(List.of("text_projection.weight"), e2.unexpected());
            assertTrue(e2.missing().isEmpty());
            assertTrue(e2.getMessage().contains("text_projection.weight"), e2.getMessage());
        }
    }

    // ---- helpers

    static void assertClose(float[] expected, float[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, "length");
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] == actual[i]) {
                continue; // also covers equal infinities
            }
            double diff = Math.abs(actual[i] - expected[i]);
            if (!(diff <= atol + rtol * Math.abs(expected[i]))) {
                throw new AssertionError("index " + i + ": expected " + expected[i] + ", got " + actual[i] + " (|diff| "
                        + diff + " > " + atol + " + " + rtol + " * |expected|)");
            }
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
