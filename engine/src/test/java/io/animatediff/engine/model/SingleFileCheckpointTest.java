package io.animatediff.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.convert.Component;
import io.animatediff.engine.convert.LdmKeyTable;
import io.animatediff.engine.nn.StateDict;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.AnimationResult;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.weights.SafetensorsWriter;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A single-file LDM checkpoint (model.diffusion_model.*, first_stage_model.*,
 * cond_stage_model.transformer.text_model.*) holding the same weights as a diffusers folder gives
 * the same animation; incomplete or foreign files and a missing tokenizer are refused clearly.
 */
class SingleFileCheckpointTest {
    @TempDir
    static Path dir;

    private static Path folder;
    private static Path motion;
    private static Path single;
    /** The LDM file's tensors (LDM keys), for writing damaged variants. */
    private static Map<String, float[]> ldmValues;

    private static Map<String, long[]> ldmShapes;

    @BeforeAll
    static void write() throws IOException {
        folder = dir.resolve("diffusers");
        TinyModels.writeBaseModel(folder, 3);
        motion = dir.resolve("motion.safetensors");
        TinyModels.writeMotionModule(motion, MotionModuleConfig.tiny(false), 103, true);
        ldmValues = new LinkedHashMap<>();
        ldmShapes = new LinkedHashMap<>();
        try (BaseModelFiles files = BaseModelFiles.open(folder);
                NDManager m = NDManager.newBaseManager()) {
            // the table from the folder's own keys: the loader builds its table from the model's keys
            LdmKeyTable table = LdmKeyTable.of(files.unet.keys(), files.vae.keys(), files.textEncoder.keys());
            int reshaped = 0;
            reshaped += convert(table, Component.UNET, files.unet, m);
            reshaped += convert(table, Component.VAE, files.vae, m);
            reshaped += convert(table, Component.TEXT_ENCODER, files.textEncoder, m);
            assertEquals(8, reshaped, "encoder and decoder mid-block attention q, k, v, proj_out are 1x1 convs in LDM");
        }
        // families an LDM file carries that are deliberately not loaded
        float[] alphas = new float[1000];
        for (int i = 0; i < alphas.length; i++) {
            alphas[i] = 1f - i / 1000f;
        }
        put("alphas_cumprod", alphas, 1000);
        put("betas", new float[1000], 1000);
        put("model_ema.decay", new float[] {0.9999f});
        put("model_ema.num_updates", new float[] {12345f});
        put("cond_stage_model.transformer.text_model.embeddings.position_ids", new float[77], 1, 77);
        Path ldm = dir.resolve("ldm");
        single = ldm.resolve("tiny-ldm.safetensors");
        writeLdm(single, k -> {});
        copyTokenizer(folder.resolve("tokenizer"), ldm.resolve("tokenizer"));
    }

    /** Writes one component under its LDM keys; returns how many tensors were reshaped. */
    private static int convert(LdmKeyTable table, Component c, StateDict sd, NDManager m) {
        int reshaped = 0;
        for (String k : sd.keys()) {
            String ldmKey =
                    table.ldmKeyOf(c, k).orElseThrow(() -> new AssertionError(c + " key " + k + " has no LDM name"));
            NDArray a = sd.load(k, m);
            long[] shape = a.getShape().getShape();
            if (table.map(ldmKey).orElseThrow().reshape() != LdmKeyTable.Reshape.NONE) {
                shape = new long[] {shape[0], shape[1], 1, 1}; // (C, C) -> (C, C, 1, 1)
                reshaped++;
            }
            put(ldmKey, a.toFloatArray(), shape);
        }
        return reshaped;
    }

    private static void put(String key, float[] values, long... shape) {
        ldmValues.put(key, values);
        ldmShapes.put(key, shape);
    }

    private static void writeLdm(Path file, Consumer<Map<String, NDArray>> edit) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            ldmValues.forEach((k, v) -> tensors.put(k, m.create(v, new Shape(ldmShapes.get(k)))));
            edit.accept(tensors);
            Files.createDirectories(file.getParent());
            SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
        }
    }

    private static void copyTokenizer(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }

    private static BaseModelFiles openTiny(Path file) throws IOException {
        return BaseModelFiles.openSingleFile(
                file,
                UNet2DConditionConfig.tiny(),
                AutoencoderKLConfig.tiny(),
                TinyModels.textConfig(TinyVocabulary.build().size()));
    }

    private static AnimationResult run(AnimateDiffModel model) {
        AnimationParams p = AnimationParams.builder()
                .prompt("a red circle moving left")
                .negativePrompt("blue")
                .frames(3)
                .size(64, 64)
                .steps(2)
                .seed(11)
                .build();
        return new AnimationPipeline(model).run(p, StepListener.NONE, true);
    }

    @Test
    void theFileHasLdmKeysAndConvolutionShapedVaeAttention() throws IOException {
        try (TensorSource src = TensorSources.open(single)) {
            List<String> keys = src.keys();
            assertTrue(keys.contains("model.diffusion_model.input_blocks.0.0.weight"), "conv_in");
            assertTrue(keys.contains("model.diffusion_model.out.2.weight"), "conv_out");
            assertTrue(keys.contains("cond_stage_model.transformer.text_model.final_layer_norm.weight"));
            assertArrayEquals(
                    new long[] {32, 32, 1, 1},
                    src.info("first_stage_model.decoder.mid.attn_1.q.weight").shape());
            assertFalse(keys.stream().anyMatch(k -> k.startsWith("down_blocks.")), "no diffusers keys left");
        }
    }

    @Test
    void singleFileAndDiffusersFolderGiveTheSameAnimation() throws IOException {
        AnimationResult fromFolder;
        try (AnimateDiffModel m = ModelLoader.load(folder, motion, MotionModuleConfig.MotionNorm.OFFICIAL, List.of())) {
            assertTrue(m.description().startsWith("diffusers"), m.description());
            fromFolder = run(m);
        }
        AnimationResult fromFile;
        try (BaseModelFiles files = openTiny(single);
                MotionModuleFile mm = MotionModuleFile.open(motion, MotionModuleConfig.MotionNorm.OFFICIAL);
                AnimateDiffModel m = ModelLoader.load(
                        files, mm, List.of(), single.getFileName().toString())) {
            assertEquals("ldm-single-file", files.format);
            fromFile = run(m);
        }
        assertArrayEquals(new long[] {1, 4, 3, 8, 8}, fromFile.latentShape());
        assertArrayEquals(fromFolder.latents(), fromFile.latents(), "latents after 2 steps");
        assertEquals(3, fromFile.frames().count());
        assertArrayEquals(fromFolder.frames().rgb(), fromFile.frames().rgb(), "decoded frames");
        // the comparison is not vacuous: the frames are not constant
        int[] rgb = fromFile.frames().rgb();
        assertTrue(Arrays.stream(rgb).distinct().count() > 10, "frames vary");
    }

    @Test
    void aMissingKeyIsRefusedByName() throws IOException {
        String gone = "first_stage_model.decoder.mid.attn_1.k.weight";
        Path file = dir.resolve("missing").resolve("tiny-missing.safetensors");
        writeLdm(file, t -> t.remove(gone));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> openTiny(file));
        assertTrue(e.getMessage().contains("1 missing VAE keys"), e.getMessage());
        assertTrue(e.getMessage().contains(gone), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void anUnexpectedKeyIsRefusedByName() throws IOException {
        String extra = "model.diffusion_model.input_blocks.9.0.in_layers.0.weight";
        Path file = dir.resolve("unexpected").resolve("tiny-unexpected.safetensors");
        writeLdm(file, t -> t.put(extra, t.get("model.diffusion_model.out.0.weight")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> openTiny(file));
        assertTrue(e.getMessage().contains("1 unexpected keys"), e.getMessage());
        assertTrue(e.getMessage().contains(extra), e.getMessage());
    }

    @Test
    void aSingleFileWithoutTokenizerSaysWhereToPutOne() throws IOException {
        assumeTrue(System.getenv(BaseModelFiles.TOKENIZER_ENV) == null, "a tokenizer is configured globally");
        Path file = dir.resolve("lonely").resolve("tiny-lonely.safetensors");
        writeLdm(file, t -> {});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> openTiny(file));
        assertTrue(e.getMessage().contains("carries no tokenizer"), e.getMessage());
        assertTrue(e.getMessage().contains("vocab.json + merges.txt"), e.getMessage());
        assertTrue(e.getMessage().contains("beside it as tokenizer/"), e.getMessage());
        assertTrue(e.getMessage().contains(BaseModelFiles.TOKENIZER_ENV), e.getMessage());
    }

    @Test
    void theSd15PathStillRefusesATinyFileNamingTheMismatch() {
        // the public entry point assumes SD1.5: a tiny file is incomplete there, not silently loaded
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BaseModelFiles.open(single));
        assertTrue(e.getMessage().contains("missing UNET keys"), e.getMessage());
    }
}
