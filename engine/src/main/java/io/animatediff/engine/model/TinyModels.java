package io.animatediff.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.animatediff.engine.clip.CLIPTextModel;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.schedulers.SchedulerConfig;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.vae.AutoencoderKL;
import io.animatediff.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes small models in the real on-disk formats users bring (a diffusers folder with configs,
 * safetensors and a BPE tokenizer; a motion module as official-layout safetensors), with seeded
 * weights. Tests and the built-in demo run on them; the same loaders read full-size files.
 */
public final class TinyModels {
    private TinyModels() {}

    /** The tiny text encoder: 32 wide (the tiny UNet's cross-attention width), 77 positions. */
    public static CLIPTextConfig textConfig(int vocabSize) {
        return new CLIPTextConfig(vocabSize, 32, 64, 2, 4, 77, CLIPTextConfig.QUICK_GELU, 1e-5);
    }

    /** Writes a diffusers folder (unet/, vae/, text_encoder/, tokenizer/, scheduler/) to {@code dir}. */
    public static void writeBaseModel(Path dir, long seed) throws IOException {
        writeBaseModel(dir, UNet2DConditionConfig.tiny(), AutoencoderKLConfig.tiny(), seed);
    }

    /**
     * As {@link #writeBaseModel(Path, long)} with the given UNet and VAE architectures (the tiny
     * text encoder and vocabulary), every weight seeded: the starting point of a model trained from
     * scratch.
     */
    public static void writeBaseModel(Path dir, UNet2DConditionConfig unetCfg, AutoencoderKLConfig vaeCfg, long seed)
            throws IOException {
        TinyVocabulary vocab = TinyVocabulary.build();
        CLIPTextConfig textCfg = textConfig(vocab.size());
        try (NDManager m = NDManager.newBaseManager()) {
            UNet3DConditionModel unet = new UNet3DConditionModel(unetCfg, null);
            unet.initialize(m, seed);
            AutoencoderKL vae = new AutoencoderKL(vaeCfg);
            vae.initialize(m, seed + 1);
            CLIPTextModel text = new CLIPTextModel(textCfg);
            text.initialize(m, seed + 2);
            writeComponent(dir.resolve("unet"), "diffusion_pytorch_model.safetensors", unetCfg, unet);
            writeComponent(dir.resolve("vae"), "diffusion_pytorch_model.safetensors", vaeCfg, vae);
            writeComponent(dir.resolve("text_encoder"), "model.safetensors", textCfg, text);
        }
        writeTokenizer(dir.resolve("tokenizer"), vocab);
        ConfigFiles.write(dir.resolve("scheduler/scheduler_config.json"), SchedulerConfig.animateDiffDefault());
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("_class_name", "StableDiffusionPipeline");
        index.put("_diffusers_version", "0.30.0");
        index.put("unet", List.of("diffusers", "UNet2DConditionModel"));
        index.put("vae", List.of("diffusers", "AutoencoderKL"));
        index.put("text_encoder", List.of("transformers", "CLIPTextModel"));
        index.put("tokenizer", List.of("transformers", "CLIPTokenizer"));
        index.put("scheduler", List.of("diffusers", "DDIMScheduler"));
        ConfigFiles.write(dir.resolve("model_index.json"), index);
    }

    /** Writes fresh motion modules for the tiny UNet (proj_out zero unless {@code nonZero}). */
    public static void writeMotionModule(Path file, MotionModuleConfig cfg, long seed, boolean nonZero)
            throws IOException {
        writeMotionModule(file, UNet2DConditionConfig.tiny(), cfg, seed, nonZero);
    }

    /** Writes fresh motion modules for a UNet of {@code unetCfg} (proj_out zero unless {@code nonZero}). */
    public static void writeMotionModule(
            Path file, UNet2DConditionConfig unetCfg, MotionModuleConfig cfg, long seed, boolean nonZero)
            throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            UNet3DConditionModel unet = new UNet3DConditionModel(unetCfg, cfg);
            unet.initialize(m, seed);
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, Param> e : unet.namedTensors().entrySet()) {
                if (!e.getKey().contains(".motion_modules.")) {
                    continue;
                }
                NDArray v = e.getValue().get();
                if (nonZero && e.getKey().contains("proj_out")) {
                    v = TorchRandom.randn(
                                    m, v.getShape(), seed * 31 + e.getKey().hashCode())
                            .mul(0.02); // seeded: the same bytes on every run
                }
                tensors.put(e.getKey(), v);
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "pt");
            meta.put(MotionModuleFile.CONFIG_METADATA, ConfigFiles.JSON.writeValueAsString(cfg));
            SafetensorsWriter.write(file, tensors, meta);
        }
    }

    static void writeComponent(Path folder, String weightsName, Object config, Module module) throws IOException {
        ConfigFiles.write(folder.resolve("config.json"), config);
        SafetensorsWriter.write(folder.resolve(weightsName), parameters(module), Map.of("format", "pt"));
    }

    /** A module's learnable parameters by key (buffers excluded). */
    public static Map<String, NDArray> parameters(Module module) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        module.namedTensors().forEach((k, p) -> {
            if (!p.isBuffer()) {
                out.put(k, p.get());
            }
        });
        return out;
    }

    static void writeTokenizer(Path dir, TinyVocabulary vocab) throws IOException {
        Files.createDirectories(dir);
        ConfigFiles.write(dir.resolve("vocab.json"), vocab.vocab());
        List<String> lines = new ArrayList<>();
        lines.add("#version: 0.2");
        lines.addAll(vocab.merges());
        Files.write(dir.resolve("merges.txt"), lines, StandardCharsets.UTF_8);
        Map<String, Object> special = new LinkedHashMap<>();
        special.put("bos_token", "<|startoftext|>");
        special.put("eos_token", "<|endoftext|>");
        special.put("pad_token", "<|endoftext|>");
        special.put("unk_token", "<|endoftext|>");
        ConfigFiles.write(dir.resolve("special_tokens_map.json"), special);
        Map<String, Object> cfg = new LinkedHashMap<>(special);
        cfg.put("model_max_length", 77);
        cfg.put("tokenizer_class", "CLIPTokenizer");
        ConfigFiles.write(dir.resolve("tokenizer_config.json"), cfg);
    }
}
