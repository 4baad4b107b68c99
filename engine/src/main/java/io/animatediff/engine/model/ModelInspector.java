package io.animatediff.engine.model;

import io.animatediff.engine.clip.CLIPTextModel;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.convert.LdmKeyTable;
import io.animatediff.engine.convert.MotionKeys;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.vae.AutoencoderKL;
import io.animatediff.engine.weights.TensorInfo;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** What {@code ./animatediff inspect} prints: facts about a model file or a preset architecture. */
public final class ModelInspector {
    private ModelInspector() {}

    /** One line per component with its parameter count, computed from shapes (nothing allocated). */
    public static List<String> preset(String name) {
        UNet2DConditionConfig sd15 = UNet2DConditionConfig.sd15();
        long base = new UNet3DConditionModel(sd15, null).parameterCount();
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "sd15" ->
                List.of(
                        "unet " + base,
                        "vae " + new AutoencoderKL(AutoencoderKLConfig.sd15()).parameterCount(),
                        "text_encoder " + new CLIPTextModel(CLIPTextConfig.vitL14()).parameterCount());
            case "mm-v1" -> motion(sd15, base, MotionModuleConfig.v1());
            case "mm-v2" -> motion(sd15, base, MotionModuleConfig.v2());
            case "mm-v3" -> motion(sd15, base, MotionModuleConfig.v3());
            case "tiny" ->
                List.of(
                        "unet " + new UNet3DConditionModel(UNet2DConditionConfig.tiny(), null).parameterCount(),
                        "vae " + new AutoencoderKL(AutoencoderKLConfig.tiny()).parameterCount(),
                        "text_encoder "
                                + new CLIPTextModel(TinyModels.textConfig(
                                                TinyVocabulary.build().size()))
                                        .parameterCount());
            default ->
                throw new IllegalArgumentException(
                        "unknown preset '" + name + "': use sd15, mm-v1, mm-v2, mm-v3 or tiny");
        };
    }

    private static List<String> motion(UNet2DConditionConfig unet, long base, MotionModuleConfig cfg) {
        long all = new UNet3DConditionModel(unet, cfg).parameterCount();
        int modules = 2 * 4 + 3 * 4 + (cfg.midBlock() ? 1 : 0);
        return List.of(
                "motion_modules " + (all - base),
                "modules " + modules,
                "max_frames " + cfg.maxFrames(),
                "unet_with_motion " + all);
    }

    /** Format, detected kind and version, dtypes, tensor and parameter counts of a file or folder. */
    public static List<String> inspect(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            List<String> out = new ArrayList<>();
            out.add("path " + path);
            boolean any = false;
            for (String c : new String[] {"unet", "vae", "text_encoder"}) {
                for (String f : new String[] {"diffusion_pytorch_model.safetensors", "model.safetensors"}) {
                    Path file = path.resolve(c).resolve(f);
                    if (Files.isRegularFile(file)) {
                        any = true;
                        try (TensorSource src = TensorSources.open(file)) {
                            out.add(c + " " + summary(src));
                        }
                    }
                }
            }
            Path adapter = path.resolve("diffusion_pytorch_model.safetensors");
            if (!any && Files.isRegularFile(adapter)) {
                try (TensorSource src = TensorSources.open(adapter)) {
                    out.add("format diffusers-folder");
                    out.addAll(fileFacts(src));
                }
                return out;
            }
            if (!any) {
                throw new IllegalArgumentException(path + " is a folder with no diffusers model weights");
            }
            out.add(1, "format diffusers-folder");
            out.add(2, "kind base");
            return out;
        }
        try (TensorSource src = TensorSources.open(path)) {
            List<String> out = new ArrayList<>();
            out.add("path " + path);
            out.add("format " + src.format());
            out.addAll(fileFacts(src));
            return out;
        }
    }

    private static List<String> fileFacts(TensorSource src) {
        List<String> out = new ArrayList<>();
        List<String> keys = src.keys();
        if (LdmKeyTable.isLdmCheckpoint(keys)) {
            out.add("kind base (single-file LDM checkpoint)");
        } else if (MotionKeys.isOfficialLayout(keys) || MotionKeys.isDiffusersLayout(keys)) {
            boolean mid = keys.stream().anyMatch(k -> k.startsWith("mid_block.motion_modules."));
            Integer pe = null;
            for (String k : keys) {
                if (MotionKeys.isPositionalBuffer(k)) {
                    pe = (int) src.info(k).shape()[1];
                    break;
                }
            }
            String version = mid ? "v2" : pe != null && pe <= 24 ? "v1" : "v3";
            out.add("kind motion (" + (MotionKeys.isOfficialLayout(keys) ? "official" : "diffusers") + " layout)");
            out.add("version " + version + (pe != null ? " (positions " + pe + ")" : "")
                    + (mid ? ", mid-block module" : ""));
        } else if (looksLikeLora(keys)) {
            out.add("kind lora");
        } else {
            out.add("kind unknown (not a base model, motion module or LoRA)");
        }
        out.add(summary(src));
        return out;
    }

    private static boolean looksLikeLora(List<String> keys) {
        return keys.stream()
                .anyMatch(k ->
                        k.contains("lora_") || k.contains(".lora.") || k.contains("lora_A") || k.contains("_lora."));
    }

    private static String summary(TensorSource src) {
        Map<String, Long> dtypes = new TreeMap<>();
        long params = 0;
        for (String k : src.keys()) {
            TensorInfo info = src.info(k);
            dtypes.merge(info.dtype().name(), 1L, Long::sum);
            if (!MotionKeys.isPositionalBuffer(k) && !k.endsWith("position_ids")) {
                params += info.numel();
            }
        }
        return "dtype " + dtypes + " tensors " + src.keys().size() + " parameters " + params;
    }
}
