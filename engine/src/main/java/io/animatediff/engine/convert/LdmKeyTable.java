package io.animatediff.engine.convert;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Strict key table for single-file "original LDM" Stable Diffusion checkpoints: every LDM key ->
 * (component, diffusers key, reshape). Ports diffusers' loaders/single_file_utils.py
 * ({@code convert_ldm_unet_checkpoint}, {@code convert_ldm_vae_checkpoint},
 * {@code convert_ldm_clip_checkpoint}) as an explicit table built from the diffusers key lists, so it
 * is a bijection by construction (checked when built) and can report missing keys, which the
 * reference's renaming loops cannot.
 *
 * <p>LDM prefixes: UNet {@code model.diffusion_model.}, VAE {@code first_stage_model.}, text encoder
 * {@code cond_stage_model.transformer.text_model.} (also accepted: the older
 * {@code cond_stage_model.transformer.} without {@code text_model.}).
 */
public final class LdmKeyTable {

    /** How a tensor's LDM shape becomes the diffusers shape. */
    public enum Reshape {
        /** Same shape. */
        NONE,
        /**
         * VAE mid-block attention q/k/v/proj_out weights: LDM stores 1x1 convolutions
         * {@code (C, C, 1, 1)} (or {@code (C, C, 1)}), diffusers linear weights {@code (C, C)}; files
         * converted before already hold {@code (C, C)} (diffusers' conv_attn_to_linear).
         */
        CONV1X1_TO_LINEAR;

        /**
         * The diffusers shape for a tensor with this LDM shape.
         *
         * @throws IllegalArgumentException if the shape cannot be a 1x1 convolution or linear weight
         */
        public long[] apply(long[] ldmShape, String ldmKey) {
            if (this == NONE) {
                return ldmShape.clone();
            }
            boolean trailingOnes = true;
            for (int i = 2; i < ldmShape.length; i++) {
                trailingOnes &= ldmShape[i] == 1;
            }
            if (ldmShape.length < 2 || ldmShape.length > 4 || !trailingOnes) {
                throw new IllegalArgumentException("'" + ldmKey + "' has shape " + Arrays.toString(ldmShape)
                        + ", expected a 1x1 convolution (C, C, 1, 1) or a linear weight (C, C): the file is"
                        + " damaged or not an SD1.x VAE");
            }
            return new long[] {ldmShape[0], ldmShape[1]};
        }
    }

    /** Where an LDM key goes. */
    public record Mapped(Component component, String diffusersKey, Reshape reshape) {}

    /**
     * Key families an LDM file may hold that the engine deliberately does not load. Each is matched
     * exactly (a prefix or a fixed name), so nothing else can slip through as "ignored".
     */
    public enum IgnoredFamily {
        /**
         * {@code model_ema.*}: EMA copies of the UNet under flattened names plus
         * {@code model_ema.decay} / {@code model_ema.num_updates}. The main weights are loaded, like
         * diffusers' default ({@code extract_ema=False}); pruned files carry EMA weights as the main
         * ones already.
         */
        EMA_WEIGHTS("EMA copies of the UNet (model_ema.*)"),
        /**
         * {@code cond_stage_model.transformer[.text_model].embeddings.position_ids}: the constant
         * {@code arange(77)} buffer; the text encoder builds it itself (a non-persistent buffer in
         * current transformers).
         */
        TEXT_POSITION_IDS("CLIP position_ids buffer (constant arange)"),
        /**
         * LatentDiffusion's DDPM schedule buffers ({@code betas}, {@code alphas_cumprod},
         * {@code alphas_cumprod_prev}, {@code sqrt_alphas_cumprod},
         * {@code sqrt_one_minus_alphas_cumprod}, {@code log_one_minus_alphas_cumprod},
         * {@code sqrt_recip_alphas_cumprod}, {@code sqrt_recipm1_alphas_cumprod},
         * {@code posterior_variance}, {@code posterior_log_variance_clipped},
         * {@code posterior_mean_coef1}, {@code posterior_mean_coef2}, {@code logvar},
         * {@code lvlb_weights}): the scheduler recomputes them from its config.
         */
        SCHEDULER_BUFFERS("DDPM schedule buffers (betas, alphas_cumprod, ...)"),
        /**
         * {@code first_stage_model.loss.*}: the LPIPS network and discriminator used only to train
         * the autoencoder.
         */
        VAE_TRAINING_LOSS("VAE training loss (first_stage_model.loss.*)");

        private static final Set<String> SCHEDULER_NAMES = Set.of(
                "betas",
                "alphas_cumprod",
                "alphas_cumprod_prev",
                "sqrt_alphas_cumprod",
                "sqrt_one_minus_alphas_cumprod",
                "log_one_minus_alphas_cumprod",
                "sqrt_recip_alphas_cumprod",
                "sqrt_recipm1_alphas_cumprod",
                "posterior_variance",
                "posterior_log_variance_clipped",
                "posterior_mean_coef1",
                "posterior_mean_coef2",
                "logvar",
                "lvlb_weights");

        private final String description;

        IgnoredFamily(String description) {
            this.description = description;
        }

        /** One line saying what the family is. */
        public String description() {
            return description;
        }

        /** The family a key belongs to, if any. */
        public static Optional<IgnoredFamily> of(String key) {
            if (key.startsWith("model_ema.")) {
                return Optional.of(EMA_WEIGHTS);
            }
            if (key.equals(LdmNames.TEXT_PREFIX + "text_model.embeddings.position_ids")
                    || key.equals(LdmNames.TEXT_PREFIX + "embeddings.position_ids")) {
                return Optional.of(TEXT_POSITION_IDS);
            }
            if (SCHEDULER_NAMES.contains(key)) {
                return Optional.of(SCHEDULER_BUFFERS);
            }
            if (key.startsWith(LdmNames.VAE_PREFIX + "loss.")) {
                return Optional.of(VAE_TRAINING_LOSS);
            }
            return Optional.empty();
        }
    }

    /**
     * A checkpoint's keys sorted out against the table.
     *
     * @param components per component, checkpoint key -> mapping, in the checkpoint's order
     * @param ignored keys of the deliberately ignored families
     * @param unexpected keys that are neither mapped nor ignored
     * @param missing per component, expected LDM keys (canonical spelling) the checkpoint lacks
     * @param conflicts keys whose diffusers key another key of the checkpoint already supplies (the
     *     same tensor under the old and the new CLIP spelling)
     */
    public record Split(
            Map<Component, Map<String, Mapped>> components,
            Map<IgnoredFamily, List<String>> ignored,
            List<String> unexpected,
            Map<Component, List<String>> missing,
            List<String> conflicts) {

        /** True if every expected key is present and nothing unexpected or conflicting is. */
        public boolean isComplete() {
            return unexpected.isEmpty()
                    && conflicts.isEmpty()
                    && missing.values().stream().allMatch(List::isEmpty);
        }

        /** {@link #requireComplete(String, Set)} for all three components. */
        public void requireComplete(String source) {
            requireComplete(source, Set.of(Component.values()));
        }

        /**
         * Fails unless the needed components are complete and no key is unexpected or conflicting.
         *
         * @param source names the file in the message
         * @throws IllegalArgumentException listing missing, unexpected and conflicting keys
         */
        public void requireComplete(String source, Set<Component> needed) {
            List<String> problems = new ArrayList<>();
            for (Component c : Component.values()) {
                List<String> m = missing.get(c);
                if (!needed.contains(c) || m.isEmpty()) {
                    continue;
                }
                String whole = components.get(c).isEmpty() ? ", the file holds no " + c + " at all" : "";
                problems.add(m.size() + " missing " + c + " keys" + whole + ": " + sample(m));
            }
            if (!unexpected.isEmpty()) {
                problems.add(unexpected.size() + " unexpected keys: " + sample(unexpected));
            }
            if (!conflicts.isEmpty()) {
                problems.add(conflicts.size() + " keys supplying a tensor twice (old and new CLIP spelling): "
                        + sample(conflicts));
            }
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException(source + " does not match the SD1.x single-file layout: "
                        + String.join("; ", problems)
                        + ". Use a complete SD1.5-architecture checkpoint (SD2/SDXL files are not supported),"
                        + " or load the missing component from a diffusers folder.");
            }
        }
    }

    private final Map<String, Mapped> canonical;
    private final Map<String, Mapped> aliases;
    private final Map<Component, Map<String, String>> toLdm;

    private LdmKeyTable(
            Map<String, Mapped> canonical, Map<String, Mapped> aliases, Map<Component, Map<String, String>> toLdm) {
        this.canonical = canonical;
        this.aliases = aliases;
        this.toLdm = toLdm;
    }

    /** The table for Stable Diffusion 1.5: SD1.5 UNet and VAE, 12-layer CLIP ViT-L/14 text encoder. */
    public static LdmKeyTable sd15() {
        return sd15(UNetLayout.sd15(), VaeLayout.sd15(), 12);
    }

    /** The table for an SD1.x-family model with these layouts. */
    public static LdmKeyTable sd15(UNetLayout u, VaeLayout v, int clipLayers) {
        return build(
                DiffusersKeys.unet(u),
                LdmNames.UNetNaming.of(u),
                DiffusersKeys.vae(v),
                v.numBlocks(),
                DiffusersKeys.textEncoder(clipLayers));
    }

    /**
     * The table for a model whose diffusers keys are given, e.g. the keys of the model the engine
     * built. UNet keys of motion modules ({@code .motion_modules.}) are skipped: LDM files have
     * none, motion modules come from their own checkpoint. An empty collection leaves that component
     * out of the table.
     *
     * @throws IllegalArgumentException if a key has no LDM counterpart
     */
    public static LdmKeyTable of(
            Collection<String> unetKeys, Collection<String> vaeKeys, Collection<String> textEncoderKeys) {
        List<String> unet =
                unetKeys.stream().filter(k -> !k.contains(".motion_modules.")).toList();
        LdmNames.UNetNaming naming = unet.isEmpty()
                ? new LdmNames.UNetNaming(1, 1, new boolean[1], false)
                : LdmNames.UNetNaming.infer(unet)
                        .orElseThrow(() -> new IllegalArgumentException(
                                "UNet keys have no down_blocks.0.resnets.*: not a UNet2DConditionModel key set"));
        int vaeBlocks = 0;
        Pattern up = Pattern.compile("^decoder\\.up_blocks\\.(\\d+)\\.");
        for (String k : vaeKeys) {
            Matcher m = up.matcher(k);
            if (m.find()) {
                vaeBlocks = Math.max(vaeBlocks, Integer.parseInt(m.group(1)) + 1);
            }
        }
        return build(unet, naming, List.copyOf(vaeKeys), vaeBlocks, List.copyOf(textEncoderKeys));
    }

    private static LdmKeyTable build(
            List<String> unetKeys,
            LdmNames.UNetNaming naming,
            List<String> vaeKeys,
            int vaeBlocks,
            List<String> textKeys) {
        Map<String, Mapped> canonical = new LinkedHashMap<>();
        Map<String, Mapped> aliases = new LinkedHashMap<>();
        Map<Component, Map<String, String>> toLdm = new EnumMap<>(Component.class);
        for (Component c : Component.values()) {
            toLdm.put(c, new LinkedHashMap<>());
        }
        for (String k : unetKeys) {
            put(canonical, toLdm, LdmNames.UNET_PREFIX + LdmNames.unet(k, naming), Component.UNET, k, Reshape.NONE);
        }
        for (String k : vaeKeys) {
            LdmNames.Named n = LdmNames.vae(k, vaeBlocks);
            put(canonical, toLdm, LdmNames.VAE_PREFIX + n.ldmKey(), Component.VAE, k, n.reshape());
        }
        for (String k : textKeys) {
            String ldm = LdmNames.text(k);
            put(canonical, toLdm, LdmNames.TEXT_PREFIX + ldm, Component.TEXT_ENCODER, k, Reshape.NONE);
            aliases.put(
                    LdmNames.TEXT_PREFIX + ldm.substring("text_model.".length()),
                    new Mapped(Component.TEXT_ENCODER, k, Reshape.NONE));
        }
        for (Component c : Component.values()) {
            toLdm.put(c, Collections.unmodifiableMap(toLdm.get(c)));
        }
        return new LdmKeyTable(
                Collections.unmodifiableMap(canonical),
                Collections.unmodifiableMap(aliases),
                Collections.unmodifiableMap(toLdm));
    }

    private static void put(
            Map<String, Mapped> canonical,
            Map<Component, Map<String, String>> toLdm,
            String ldmKey,
            Component c,
            String diffusersKey,
            Reshape reshape) {
        Mapped previous = canonical.putIfAbsent(ldmKey, new Mapped(c, diffusersKey, reshape));
        if (previous != null) {
            throw new IllegalStateException("LDM key table is not 1:1: '" + ldmKey + "' would receive both "
                    + previous.component() + " '" + previous.diffusersKey() + "' and " + c + " '" + diffusersKey + "'");
        }
        if (toLdm.get(c).put(diffusersKey, ldmKey) != null) {
            throw new IllegalArgumentException(c + " key '" + diffusersKey + "' is listed twice");
        }
    }

    /** Where an LDM key goes; empty for keys the table does not know (ignored families included). */
    public Optional<Mapped> map(String ldmKey) {
        Mapped m = canonical.get(ldmKey);
        return m != null ? Optional.of(m) : Optional.ofNullable(aliases.get(ldmKey));
    }

    /** Every key a complete checkpoint must have, in canonical spelling and module order. */
    public Set<String> expectedLdmKeys() {
        return Collections.unmodifiableSet(canonical.keySet());
    }

    /** The expected LDM keys of one component. */
    public Set<String> expectedLdmKeys(Component c) {
        return Collections.unmodifiableSet(new LinkedHashSet<>(toLdm.get(c).values()));
    }

    /** The canonical LDM key of a diffusers key (for writing single files). */
    public Optional<String> ldmKeyOf(Component c, String diffusersKey) {
        return Optional.ofNullable(toLdm.get(c).get(diffusersKey));
    }

    /** True if the keys are an original-LDM checkpoint: some key starts with {@code model.diffusion_model.}. */
    public static boolean isLdmCheckpoint(Collection<String> keys) {
        return keys.stream().anyMatch(k -> k.startsWith(LdmNames.UNET_PREFIX));
    }

    /** Sorts a checkpoint's keys into mapped (per component), ignored, unexpected, missing and conflicting. */
    public Split split(Collection<String> keys) {
        Map<Component, Map<String, Mapped>> components = new EnumMap<>(Component.class);
        for (Component c : Component.values()) {
            components.put(c, new LinkedHashMap<>());
        }
        Map<IgnoredFamily, List<String>> ignored = new EnumMap<>(IgnoredFamily.class);
        for (IgnoredFamily f : IgnoredFamily.values()) {
            ignored.put(f, new ArrayList<>());
        }
        List<String> unexpected = new ArrayList<>();
        List<String> conflicts = new ArrayList<>();
        Map<Component, Map<String, String>> supplied = new EnumMap<>(Component.class);
        for (Component c : Component.values()) {
            supplied.put(c, new HashMap<>());
        }
        for (String key : keys) {
            Optional<Mapped> mapped = map(key);
            if (mapped.isPresent()) {
                Mapped m = mapped.get();
                String earlier = supplied.get(m.component()).putIfAbsent(m.diffusersKey(), key);
                if (earlier != null) {
                    conflicts.add(key + " (same tensor as " + earlier + ")");
                } else {
                    components.get(m.component()).put(key, m);
                }
                continue;
            }
            Optional<IgnoredFamily> family = IgnoredFamily.of(key);
            if (family.isPresent()) {
                ignored.get(family.get()).add(key);
            } else {
                unexpected.add(key);
            }
        }
        Map<Component, List<String>> missing = new EnumMap<>(Component.class);
        for (Component c : Component.values()) {
            List<String> absent = new ArrayList<>();
            for (Map.Entry<String, String> e : toLdm.get(c).entrySet()) {
                if (!supplied.get(c).containsKey(e.getKey())) {
                    absent.add(e.getValue());
                }
            }
            missing.put(c, List.copyOf(absent));
            components.put(c, Collections.unmodifiableMap(components.get(c)));
        }
        for (IgnoredFamily f : IgnoredFamily.values()) {
            ignored.put(f, List.copyOf(ignored.get(f)));
        }
        return new Split(
                Collections.unmodifiableMap(components),
                Collections.unmodifiableMap(ignored),
                List.copyOf(unexpected),
                Collections.unmodifiableMap(missing),
                List.copyOf(conflicts));
    }

    /** Up to 20 keys, then how many more. */
    static String sample(List<String> keys) {
        int shown = Math.min(keys.size(), 20);
        String head = String.join(", ", keys.subList(0, shown));
        return shown < keys.size() ? head + " ... and " + (keys.size() - shown) + " more" : head;
    }
}
