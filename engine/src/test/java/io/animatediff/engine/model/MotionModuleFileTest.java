package io.animatediff.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.MotionModuleConfig.MotionNorm;
import io.animatediff.engine.convert.MotionKeys;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.weights.SafetensorsWriter;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import io.animatediff.engine.weights.TorchCheckpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Motion modules in every layout users bring (official .ckpt, official and diffusers safetensors,
 * a diffusers MotionAdapter folder) load to the same model; the version is detected from the
 * weights; the GroupNorm choices (motion norm, v1 resnet norm) change what they should.
 */
class MotionModuleFileTest {
    /** The tiny UNet's motion modules use 8 groups; detection alone would assume the official 32. */
    private static final int TINY_GROUPS = 8;

    @TempDir
    static Path dir;

    private static Path base;
    /** Official-layout safetensors written by TinyModels (config in the metadata), proj_out non-zero. */
    private static Path official;

    private static Path officialZero;
    /** The same tensors as {@link #official} (pos_encoder.pe included), without our metadata. */
    private static Map<String, float[]> values;

    private static Map<String, long[]> shapes;
    private static NDManager manager;

    @BeforeAll
    static void write() throws IOException {
        manager = NDManager.newBaseManager();
        base = dir.resolve("base");
        TinyModels.writeBaseModel(base, 5);
        official = dir.resolve("mm.safetensors");
        TinyModels.writeMotionModule(official, MotionModuleConfig.tiny(false), 105, true);
        officialZero = dir.resolve("mm-zero.safetensors");
        TinyModels.writeMotionModule(officialZero, MotionModuleConfig.tiny(false), 105, false);
        values = new LinkedHashMap<>();
        shapes = new LinkedHashMap<>();
        try (TensorSource src = TensorSources.open(official);
                NDManager m = NDManager.newBaseManager()) {
            for (String k : src.keys()) {
                values.put(k, src.load(k, m).toFloatArray());
                shapes.put(k, src.info(k).shape());
            }
        }
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static Map<String, NDArray> tensors(Map<String, float[]> v, Map<String, long[]> s) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        v.forEach((k, a) -> out.put(k, manager.create(a, new Shape(s.get(k)))));
        return out;
    }

    /** The official tensors with every pos_encoder.pe cut to {@code length} positions. */
    private static Map<String, NDArray> withPeLength(Map<String, NDArray> t, int length) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        t.forEach((k, a) -> out.put(k, MotionKeys.isPositionalBuffer(k) ? a.get(new NDIndex(":, :{}, :", length)) : a));
        return out;
    }

    private static float[] latents(AnimateDiffModel model, int frames) {
        AnimationParams p = AnimationParams.builder()
                .prompt("a red circle moving left")
                .frames(frames)
                .size(64, 64)
                .steps(2)
                .seed(21)
                .build();
        return new AnimationPipeline(model).run(p, StepListener.NONE, false).latents();
    }

    private static float[] latentsWith(MotionModuleFile motion, int frames) throws IOException {
        try (BaseModelFiles files = BaseModelFiles.open(base);
                AnimateDiffModel model = ModelLoader.load(files, motion, List.of(), "base")) {
            return latents(model, frames);
        }
    }

    private static float[] latentsWith(Path motion, MotionNorm norm, int frames) throws IOException {
        try (AnimateDiffModel model = ModelLoader.load(base, motion, norm, List.of())) {
            return latents(model, frames);
        }
    }

    @Test
    void officialCkptDiffusersSafetensorsAndAdapterFolderGiveTheOfficialOutput() throws IOException {
        float[] reference = latentsWith(official, MotionNorm.OFFICIAL, 3);
        Map<String, NDArray> all = tensors(values, shapes);
        assertTrue(all.keySet().stream().anyMatch(MotionKeys::isPositionalBuffer), "pos_encoder.pe in the file");

        // 1. the official .ckpt: a torch zip pickle {"state_dict": {...}} with pos_encoder.pe buffers
        Path ckpt = dir.resolve("mm_tiny.ckpt");
        TorchCheckpoints.save(ckpt, all, true);
        try (MotionModuleFile mm = MotionModuleFile.open(ckpt, MotionNorm.OFFICIAL, TINY_GROUPS)) {
            assertEquals("official", mm.layout);
            assertEquals("v3", mm.config.version(), "32 positions, no mid block");
            assertArrayEquals(reference, latentsWith(mm, 3), "official .ckpt");
        }

        // 2. diffusers MotionAdapter layout: renamed keys, one pos_embed.pe per transformer block
        Map<String, NDArray> diffusers = new LinkedHashMap<>();
        all.forEach((k, a) -> {
            if (!MotionKeys.isPositionalBuffer(k)) {
                diffusers.put(MotionKeys.toDiffusers(k), a);
            } else if (k.contains(".attention_blocks.0.")) {
                String block = k.substring(0, k.indexOf(".attention_blocks."));
                diffusers.put(
                        MotionKeys.toDiffusers(block + ".ff_norm.weight").replace(".norm3.weight", ".pos_embed.pe"), a);
            }
        });
        assertTrue(diffusers.keySet().stream().anyMatch(k -> k.endsWith(".transformer_blocks.0.pos_embed.pe")));
        Path diffusersFile = dir.resolve("mm-diffusers.safetensors");
        SafetensorsWriter.write(diffusersFile, diffusers, Map.of("format", "pt"));
        try (MotionModuleFile mm = MotionModuleFile.open(diffusersFile, MotionNorm.OFFICIAL, TINY_GROUPS)) {
            assertEquals("diffusers", mm.layout);
            assertEquals(32, mm.config.maxFrames());
            assertArrayEquals(reference, latentsWith(mm, 3), "diffusers-layout safetensors");
        }

        // 3. a MotionAdapter folder: config.json says the groups, no override needed
        Path folder = dir.resolve("motion-adapter");
        Files.createDirectories(folder);
        SafetensorsWriter.write(
                folder.resolve("diffusion_pytorch_model.safetensors"), diffusers, Map.of("format", "pt"));
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("_class_name", "MotionAdapter");
        config.put("block_out_channels", List.of(32, 64));
        config.put("motion_layers_per_block", 1);
        config.put("motion_mid_block_layers_per_block", 1);
        config.put("motion_num_attention_heads", 8);
        config.put("motion_norm_num_groups", TINY_GROUPS);
        config.put("motion_max_seq_length", 32);
        config.put("use_motion_mid_block", false);
        ConfigFiles.write(folder.resolve("config.json"), config);
        assertArrayEquals(reference, latentsWith(folder, MotionNorm.OFFICIAL, 3), "MotionAdapter folder");
    }

    @Test
    void theReferenceDependsOnTheMotionWeights() throws IOException {
        // guards the equalities above: a module that loaded wrong weights would change the output
        assertFalse(Arrays.equals(
                latentsWith(official, MotionNorm.OFFICIAL, 3), latentsWith(officialZero, MotionNorm.OFFICIAL, 3)));
    }

    @Test
    void versionIsDetectedFromPositionsAndMidBlock() throws IOException {
        Map<String, NDArray> all = tensors(values, shapes);
        // v1: 24 positions (mm_sd_v15.ckpt), resnet GroupNorm across frames
        Path v1 = dir.resolve("v1.ckpt");
        TorchCheckpoints.save(v1, withPeLength(all, 24), false);
        try (MotionModuleFile mm = MotionModuleFile.open(v1, MotionNorm.OFFICIAL, TINY_GROUPS)) {
            assertEquals("v1", mm.config.version());
            assertEquals(24, mm.config.maxFrames());
            assertFalse(mm.config.midBlock());
            assertFalse(mm.config.inflatedGroupNorm(), "v1 normalises resnets across frames");
            assertEquals(TINY_GROUPS, mm.config.normGroups());
        }
        // v2: a mid-block module (mm_sd_v15_v2.ckpt)
        Path withMid = dir.resolve("mid.safetensors");
        TinyModels.writeMotionModule(withMid, MotionModuleConfig.tiny(true), 7, true);
        Path v2 = dir.resolve("v2.ckpt");
        try (TensorSource src = TensorSources.open(withMid)) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            for (String k : src.keys()) {
                t.put(k, src.load(k, manager));
            }
            assertTrue(t.keySet().stream().anyMatch(k -> k.startsWith("mid_block.motion_modules.0.")));
            TorchCheckpoints.save(v2, t, true);
        }
        try (MotionModuleFile mm = MotionModuleFile.open(v2, MotionNorm.OFFICIAL, TINY_GROUPS)) {
            assertEquals("v2", mm.config.version());
            assertTrue(mm.config.midBlock());
            assertTrue(mm.config.inflatedGroupNorm());
            assertEquals(32, mm.config.maxFrames());
        }
        // v3: 32 positions, no mid block (v3_sd15_mm.ckpt)
        Path v3 = dir.resolve("v3.safetensors");
        SafetensorsWriter.write(v3, all, Map.of("format", "pt"));
        try (MotionModuleFile mm = MotionModuleFile.open(v3, MotionNorm.DIFFUSERS, TINY_GROUPS)) {
            assertEquals("v3", mm.config.version());
            assertFalse(mm.config.midBlock());
            assertTrue(mm.config.inflatedGroupNorm());
            assertEquals(MotionNorm.DIFFUSERS, mm.config.motionNorm());
            assertEquals(List.of(1, 2), mm.config.resolutions(), "levels read off the down blocks present");
        }
        // real files (public entry point) keep the official group count
        try (MotionModuleFile mm = MotionModuleFile.open(v3, MotionNorm.OFFICIAL)) {
            assertEquals(32, mm.config.normGroups());
        }
    }

    @Test
    void aTemporalCrossModuleIsDetectedFromItsKeysWidthAndLoads() throws IOException {
        MotionModuleConfig crossCfg = MotionModuleConfig.tiny(false)
                .withAttentionBlockTypes(List.of(MotionModuleConfig.TEMPORAL_SELF, MotionModuleConfig.TEMPORAL_CROSS));
        Path withMetadata = dir.resolve("cross.safetensors");
        TinyModels.writeMotionModule(withMetadata, crossCfg, 31, true);
        // the same tensors without our metadata: the tiny text (32 wide) equals level 0's channels, not
        // level 1's (64), so the second attention's to_k gives it away
        Path bare = dir.resolve("cross-bare.safetensors");
        try (TensorSource src = TensorSources.open(withMetadata)) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            for (String k : src.keys()) {
                t.put(k, src.load(k, manager));
            }
            SafetensorsWriter.write(bare, t, Map.of("format", "pt"));
        }
        try (MotionModuleFile mm = MotionModuleFile.open(bare, MotionNorm.OFFICIAL, TINY_GROUPS)) {
            assertEquals(crossCfg.attentionBlockTypes(), mm.config.attentionBlockTypes());
            float[] detected = latentsWith(mm, 3);
            assertArrayEquals(latentsWith(withMetadata, MotionNorm.OFFICIAL, 3), detected);
            assertTrue(maxAbsDiff(detected, latentsWith(official, MotionNorm.OFFICIAL, 3)) > 1e-4);
        }
        try (MotionModuleFile mm = MotionModuleFile.open(official, MotionNorm.OFFICIAL, TINY_GROUPS)) {
            assertEquals(MotionModuleConfig.SELF_SELF, mm.config.attentionBlockTypes(), "released layout: self, self");
        }
    }

    @Test
    void aFolderWhoseConfigContradictsTheWeightsIsRefused() throws IOException {
        Path folder = dir.resolve("contradiction");
        Files.createDirectories(folder);
        Map<String, NDArray> diffusers = new LinkedHashMap<>();
        tensors(values, shapes).forEach((k, a) -> {
            if (!MotionKeys.isPositionalBuffer(k)) {
                diffusers.put(MotionKeys.toDiffusers(k), a);
            }
        });
        SafetensorsWriter.write(
                folder.resolve("diffusion_pytorch_model.safetensors"), diffusers, Map.of("format", "pt"));
        ConfigFiles.write(folder.resolve("config.json"), Map.of("use_motion_mid_block", true));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> MotionModuleFile.open(folder, MotionNorm.OFFICIAL));
        assertTrue(e.getMessage().contains("use_motion_mid_block=true"), e.getMessage());
    }

    @Test
    void acrossFramesMotionNormDiffersOnlyWhenTheModuleIsActive() throws IOException {
        float[] official3 = latentsWith(official, MotionNorm.OFFICIAL, 3);
        float[] diffusers3 = latentsWith(official, MotionNorm.DIFFUSERS, 3);
        assertTrue(maxAbsDiff(official3, diffusers3) > 1e-4, "non-zero proj_out: the norm choice shows");
        // zero proj_out: every module is the identity, whatever its norm
        assertArrayEquals(
                latentsWith(officialZero, MotionNorm.OFFICIAL, 3), latentsWith(officialZero, MotionNorm.DIFFUSERS, 3));
    }

    @Test
    void v1ResnetNormAcrossFramesDiffersFromPerFrame() throws IOException {
        // the same weights detected as v1 (24 positions) and v3 (32): only the resnet norm differs
        Map<String, NDArray> all = tensors(values, shapes);
        Path v1 = dir.resolve("resnet-v1.safetensors");
        SafetensorsWriter.write(v1, withPeLength(all, 24), Map.of("format", "pt"));
        Path v3 = dir.resolve("resnet-v3.safetensors");
        SafetensorsWriter.write(v3, all, Map.of("format", "pt"));
        float[] acrossFrames;
        try (MotionModuleFile mm = MotionModuleFile.open(v1, MotionNorm.OFFICIAL, TINY_GROUPS)) {
            assertFalse(mm.config.inflatedGroupNorm());
            acrossFrames = latentsWith(mm, 3);
        }
        float[] perFrame;
        try (MotionModuleFile mm = MotionModuleFile.open(v3, MotionNorm.OFFICIAL, TINY_GROUPS)) {
            perFrame = latentsWith(mm, 3);
        }
        assertArrayEquals(perFrame, latentsWith(official, MotionNorm.OFFICIAL, 3), "v3 detection = tiny config");
        assertTrue(maxAbsDiff(acrossFrames, perFrame) > 1e-4, "v1 normalises resnets across frames");
        // one frame: across frames and per frame are the same statistics
        try (MotionModuleFile a = MotionModuleFile.open(v1, MotionNorm.OFFICIAL, TINY_GROUPS);
                MotionModuleFile b = MotionModuleFile.open(v3, MotionNorm.OFFICIAL, TINY_GROUPS)) {
            float[] one1 = latentsWith(a, 1);
            float[] one3 = latentsWith(b, 1);
            assertClose(one3, one1, 1e-5, 1e-4, "single frame");
        }
    }

    /** |actual - expected| <= atol + rtol * |expected| elementwise. */
    static void assertClose(float[] expected, float[] actual, double atol, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double tol = atol + rtol * Math.abs(expected[i]);
            if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
                throw new AssertionError(
                        what + ": element " + i + " is " + actual[i] + ", expected " + expected[i] + " within " + tol);
            }
        }
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
