package io.animatediff.engine.model;

import io.animatediff.engine.clip.CLIPTextModel;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.convert.Component;
import io.animatediff.engine.convert.LdmKeyTable;
import io.animatediff.engine.convert.LegacyDiffusersKeys;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.StateDict;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.vae.AutoencoderKL;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The image model a user brings, opened lazily: a diffusers folder ({@code unet/}, {@code vae/},
 * {@code text_encoder/}, {@code tokenizer/}) or a single-file LDM checkpoint
 * ({@code model.diffusion_model.*}, {@code first_stage_model.*}, {@code cond_stage_model.transformer.*})
 * whose keys go through the explicit LDM table. Tensors are read only when loaded.
 */
public final class BaseModelFiles implements AutoCloseable {
    /** Where a single-file checkpoint's tokenizer is looked for when no folder sits beside it. */
    public static final String TOKENIZER_ENV = "ANIMATEDIFF_TOKENIZER";

    public final UNet2DConditionConfig unetConfig;
    public final AutoencoderKLConfig vaeConfig;
    public final CLIPTextConfig textConfig;
    public final Path tokenizerDir;
    public final StateDict unet;
    public final StateDict vae;
    public final StateDict textEncoder;
    public final String format;
    private final List<TensorSource> open;

    private BaseModelFiles(
            UNet2DConditionConfig unetConfig,
            AutoencoderKLConfig vaeConfig,
            CLIPTextConfig textConfig,
            Path tokenizerDir,
            StateDict unet,
            StateDict vae,
            StateDict textEncoder,
            String format,
            List<TensorSource> open) {
        this.unetConfig = unetConfig;
        this.vaeConfig = vaeConfig;
        this.textConfig = textConfig;
        this.tokenizerDir = tokenizerDir;
        this.unet = unet;
        this.vae = vae;
        this.textEncoder = textEncoder;
        this.format = format;
        this.open = open;
    }

    public static BaseModelFiles open(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            return openDiffusers(path);
        }
        if (Files.isRegularFile(path)) {
            return openSingleFile(path);
        }
        throw new IllegalArgumentException("base model " + path
                + " does not exist: pass a diffusers folder or a single-file .safetensors checkpoint");
    }

    private static BaseModelFiles openDiffusers(Path dir) throws IOException {
        List<TensorSource> open = new ArrayList<>();
        try {
            UNet2DConditionConfig unetCfg =
                    ConfigFiles.read(dir.resolve("unet/config.json"), UNet2DConditionConfig.class);
            AutoencoderKLConfig vaeCfg = ConfigFiles.read(dir.resolve("vae/config.json"), AutoencoderKLConfig.class);
            CLIPTextConfig textCfg = ConfigFiles.read(dir.resolve("text_encoder/config.json"), CLIPTextConfig.class);
            StateDict unet = weights(dir.resolve("unet"), "diffusion_pytorch_model", open);
            StateDict vae =
                    weights(dir.resolve("vae"), "diffusion_pytorch_model", open).renamed(LegacyDiffusersKeys::rename);
            StateDict text = weights(dir.resolve("text_encoder"), "model", open);
            Path tokenizer = dir.resolve("tokenizer");
            if (!Files.isDirectory(tokenizer)) {
                throw new IllegalArgumentException(dir + " has no tokenizer/ folder (vocab.json + merges.txt)");
            }
            return new BaseModelFiles(unetCfg, vaeCfg, textCfg, tokenizer, unet, vae, text, "diffusers", open);
        } catch (IOException | RuntimeException e) {
            closeAll(open);
            throw e;
        }
    }

    /** The weights file of a diffusers component folder: safetensors preferred, else the torch .bin. */
    private static StateDict weights(Path folder, String stem, List<TensorSource> open) throws IOException {
        for (String name : new String[] {stem + ".safetensors", stem + ".bin", "pytorch_model.bin"}) {
            Path f = folder.resolve(name);
            if (Files.isRegularFile(f)) {
                TensorSource src = TensorSources.open(f);
                open.add(src);
                return new TensorStateDict(src);
            }
        }
        throw new IllegalArgumentException(
                folder + " has no " + stem + ".safetensors (or .bin): the diffusers folder is incomplete");
    }

    private static BaseModelFiles openSingleFile(Path file) throws IOException {
        return openSingleFile(
                file,
                UNet2DConditionConfig.sd15(),
                AutoencoderKLConfig.sd15(),
                CLIPTextConfig.vitL14(),
                LdmKeyTable.sd15());
    }

    /**
     * A single-file LDM checkpoint of another architecture than SD1.5 (e.g. the tiny test model):
     * the key table is built from the parameter keys of the models these configs make.
     */
    static BaseModelFiles openSingleFile(
            Path file, UNet2DConditionConfig unetCfg, AutoencoderKLConfig vaeCfg, CLIPTextConfig textCfg)
            throws IOException {
        LdmKeyTable table = LdmKeyTable.of(
                parameterKeys(new UNet3DConditionModel(unetCfg, null)),
                parameterKeys(new AutoencoderKL(vaeCfg)),
                parameterKeys(new CLIPTextModel(textCfg)));
        return openSingleFile(file, unetCfg, vaeCfg, textCfg, table);
    }

    /** A module's learnable parameter keys (buffers such as position_ids are no checkpoint keys). */
    private static List<String> parameterKeys(Module module) {
        List<String> keys = new ArrayList<>();
        module.namedTensors().forEach((k, p) -> {
            if (!p.isBuffer()) {
                keys.add(k);
            }
        });
        return keys;
    }

    private static BaseModelFiles openSingleFile(
            Path file,
            UNet2DConditionConfig unetCfg,
            AutoencoderKLConfig vaeCfg,
            CLIPTextConfig textCfg,
            LdmKeyTable table)
            throws IOException {
        TensorSource src = TensorSources.open(file);
        try {
            if (!LdmKeyTable.isLdmCheckpoint(src.keys())) {
                throw new IllegalArgumentException(file + " is not a single-file Stable Diffusion checkpoint (no "
                        + "model.diffusion_model.* keys): pass a diffusers folder, or an SD1.5 .safetensors/.ckpt");
            }
            LdmKeyTable.Split split = table.split(src.keys());
            split.requireComplete(file.toString());
            StateDict all = new TensorStateDict(src);
            Path tokenizer = findTokenizer(file);
            return new BaseModelFiles(
                    unetCfg,
                    vaeCfg,
                    textCfg,
                    tokenizer,
                    component(all, split, Component.UNET),
                    component(all, split, Component.VAE),
                    component(all, split, Component.TEXT_ENCODER),
                    "ldm-single-file",
                    List.of(src));
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    /** One component of an LDM file under diffusers keys, with the table's reshapes applied. */
    private static StateDict component(StateDict all, LdmKeyTable.Split split, Component c) {
        Map<String, String> toSource = new LinkedHashMap<>();
        Map<String, long[]> reshaped = new HashMap<>();
        for (Map.Entry<String, LdmKeyTable.Mapped> e : split.components().get(c).entrySet()) {
            String ldmKey = e.getKey();
            LdmKeyTable.Mapped m = e.getValue();
            toSource.put(m.diffusersKey(), ldmKey);
            if (m.reshape() != LdmKeyTable.Reshape.NONE) {
                reshaped.put(m.diffusersKey(), m.reshape().apply(all.shape(ldmKey), ldmKey));
            }
        }
        StateDict view = all.mapped(toSource, all.describe() + " [" + c + "]");
        if (reshaped.isEmpty()) {
            return view;
        }
        return view.transformed(
                reshaped, a -> a.reshape(a.getShape().get(0), a.getShape().get(1)));
    }

    private static Path findTokenizer(Path file) {
        List<Path> candidates = new ArrayList<>();
        String env = System.getenv(TOKENIZER_ENV);
        if (env != null && !env.isBlank()) {
            candidates.add(Path.of(env));
        }
        Path parent = file.toAbsolutePath().getParent();
        candidates.add(parent.resolve("tokenizer"));
        candidates.add(
                parent.resolve(stripExtension(file.getFileName().toString())).resolve("tokenizer"));
        for (Path c : candidates) {
            if (Files.isRegularFile(c.resolve("vocab.json")) && Files.isRegularFile(c.resolve("merges.txt"))) {
                return c;
            }
        }
        throw new IllegalArgumentException("single-file checkpoint " + file + " carries no tokenizer: put the CLIP "
                + "tokenizer (vocab.json + merges.txt, the tokenizer/ folder of stable-diffusion-v1-5) beside it as "
                + "tokenizer/, or set " + TOKENIZER_ENV + " to that folder");
    }

    private static String stripExtension(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    private static void closeAll(List<TensorSource> open) {
        for (TensorSource s : open) {
            s.close();
        }
    }

    @Override
    public void close() {
        closeAll(open);
    }
}
