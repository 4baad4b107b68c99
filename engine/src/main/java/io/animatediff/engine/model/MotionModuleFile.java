package io.animatediff.engine.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.convert.MotionKeys;
import io.animatediff.engine.nn.StateDict;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A motion module a user brings: the official {@code .ckpt} (torch zip, read by the restricted
 * unpickler), official-layout or diffusers-layout safetensors, or a diffusers MotionAdapter folder.
 * Keys are presented in the official layout; the version is detected from the weights (positional
 * table length 24 = v1, mid-block module = v2, otherwise v3).
 */
public final class MotionModuleFile implements AutoCloseable {
    /** Safetensors metadata key under which we store a MotionModuleConfig (JSON) in files we write. */
    public static final String CONFIG_METADATA = "animatediff.motion_module";

    public final MotionModuleConfig config;
    public final StateDict weights;
    public final String layout;
    private final TensorSource source;

    private MotionModuleFile(MotionModuleConfig config, StateDict weights, String layout, TensorSource source) {
        this.config = config;
        this.weights = weights;
        this.layout = layout;
        this.source = source;
    }

    public static MotionModuleFile open(Path path, MotionModuleConfig.MotionNorm norm) throws IOException {
        return open(path, norm, null);
    }

    /**
     * As {@link #open(Path, MotionModuleConfig.MotionNorm)}, with the GroupNorm group count to use
     * when neither the file's metadata nor a config.json gives one (detection assumes the official
     * 32, which does not fit narrower test modules); null keeps 32.
     */
    static MotionModuleFile open(Path path, MotionModuleConfig.MotionNorm norm, Integer normGroups) throws IOException {
        AdapterConfig adapter = null;
        Path file = path;
        if (Files.isDirectory(path)) {
            adapter = ConfigFiles.read(path.resolve("config.json"), AdapterConfig.class);
            file = path.resolve("diffusion_pytorch_model.safetensors");
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException(path + " is a folder without diffusion_pytorch_model.safetensors: "
                        + "pass a diffusers MotionAdapter folder, a .ckpt or a .safetensors motion module");
            }
        } else if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("motion module " + path + " does not exist");
        }
        TensorSource src = TensorSources.open(file);
        try {
            StateDict raw = new TensorStateDict(src);
            String layout;
            StateDict official;
            if (MotionKeys.isOfficialLayout(raw.keys())) {
                layout = "official";
                official = raw;
            } else if (MotionKeys.isDiffusersLayout(raw.keys())) {
                layout = "diffusers";
                // pos_embed.pe (one per transformer block; diffusers saves this persistent buffer) has no
                // official name: dropped here and recomputed, like the official pos_encoder.pe
                official = raw.renamed(k -> MotionKeys.isPositionalBuffer(k) ? null : MotionKeys.toOfficial(k));
            } else {
                throw new IllegalArgumentException(file + " holds no motion-module keys (expected "
                        + "down_blocks.N.motion_modules.M.*): is it a motion module? First keys: "
                        + raw.keys().stream().limit(5).toList());
            }
            MotionModuleConfig cfg = detect(official, raw, src.metadata(), adapter, file, normGroups)
                    .withMotionNorm(norm);
            return new MotionModuleFile(cfg, official, layout, src);
        } catch (IOException | RuntimeException e) {
            src.close();
            throw e;
        }
    }

    /**
     * Version and sizes from the weights ({@code w} official keys, {@code raw} the file's own, which
     * keep the positional buffers), our own metadata, or the adapter's config.json.
     */
    static MotionModuleConfig detect(
            StateDict w,
            StateDict raw,
            Map<String, String> metadata,
            AdapterConfig adapter,
            Path file,
            Integer normGroups)
            throws IOException {
        String stored = metadata.get(CONFIG_METADATA);
        if (stored != null) {
            return ConfigFiles.JSON.readValue(stored, MotionModuleConfig.class);
        }
        boolean mid = w.keys().stream().anyMatch(k -> k.startsWith("mid_block.motion_modules."));
        Integer peLength = null;
        for (String k : raw.keys()) {
            if (MotionKeys.isPositionalBuffer(k)) {
                peLength = (int) raw.shape(k)[1];
                break;
            }
        }
        int blocks = 0;
        while (true) {
            String prefix = "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks." + blocks + ".";
            int b = blocks;
            if (w.keys().stream().noneMatch(k -> k.startsWith(prefix))) {
                break;
            }
            blocks = b + 1;
        }
        if (blocks == 0) {
            throw new IllegalArgumentException(file + ": down_blocks.0.motion_modules.0 has no transformer blocks");
        }
        MotionModuleConfig base;
        if (mid) {
            base = MotionModuleConfig.v2();
        } else if (peLength != null && peLength <= 24) {
            base = MotionModuleConfig.v1();
        } else {
            base = MotionModuleConfig.v3();
        }
        int maxFrames = peLength != null ? peLength : base.maxFrames();
        int heads = base.heads();
        int groups = normGroups != null ? normGroups : base.normGroups();
        if (adapter != null) {
            if (adapter.maxSeqLength != null) {
                maxFrames = adapter.maxSeqLength;
            }
            if (adapter.heads != null) {
                heads = adapter.heads;
            }
            if (adapter.normGroups != null) {
                groups = adapter.normGroups;
            }
            if (adapter.midBlock != null && adapter.midBlock != mid) {
                throw new IllegalArgumentException(file + ": config.json says use_motion_mid_block=" + adapter.midBlock
                        + " but the weights " + (mid ? "have" : "lack") + " a mid-block module");
            }
        }
        List<Integer> levels = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            String prefix = "down_blocks." + i + ".motion_modules.";
            if (w.keys().stream().anyMatch(k -> k.startsWith(prefix))) {
                levels.add(1 << i);
            }
        }
        return new MotionModuleConfig(
                base.version(),
                heads,
                blocks,
                maxFrames,
                mid,
                levels,
                groups,
                base.motionNorm(),
                base.inflatedGroupNorm(),
                attentionBlockTypes(w));
    }

    /**
     * attention_block_types from the weights: an attention whose to_k reads another width than its
     * to_q is a Temporal_Cross (its keys come from the text). The text width can equal one level's
     * channels but not every level's, so one level that differs decides.
     */
    static List<String> attentionBlockTypes(StateDict w) {
        String first = "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.";
        List<String> types = new ArrayList<>();
        for (int i = 0; w.keys().contains(first + i + ".to_q.weight"); i++) {
            String suffix = ".temporal_transformer.transformer_blocks.0.attention_blocks." + i;
            boolean cross = false;
            for (String k : w.keys()) {
                if (k.endsWith(suffix + ".to_k.weight")) {
                    String q = k.substring(0, k.length() - "to_k.weight".length()) + "to_q.weight";
                    if (w.keys().contains(q) && w.shape(k)[1] != w.shape(q)[1]) {
                        cross = true;
                        break;
                    }
                }
            }
            types.add(cross ? MotionModuleConfig.TEMPORAL_CROSS : MotionModuleConfig.TEMPORAL_SELF);
        }
        return types.isEmpty() ? MotionModuleConfig.SELF_SELF : types;
    }

    /** The fields of a diffusers MotionAdapter config.json that matter here. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record AdapterConfig(
            @JsonProperty("motion_max_seq_length") Integer maxSeqLength,
            @JsonProperty("motion_num_attention_heads") Integer heads,
            @JsonProperty("motion_norm_num_groups") Integer normGroups,
            @JsonProperty("use_motion_mid_block") Boolean midBlock) {}

    @Override
    public void close() {
        source.close();
    }
}
