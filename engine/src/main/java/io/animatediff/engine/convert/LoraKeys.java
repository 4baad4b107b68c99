package io.animatediff.engine.convert;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a LoRA file's key set (with tensor shapes) into a {@link LoraPlan}: which base weight each
 * down/up pair modifies, its rank and its alpha key. Ports the key handling of diffusers'
 * loaders/lora_conversion_utils.py ({@code _convert_non_diffusers_lora_to_diffusers},
 * {@code _convert_unet_lora_key}, {@code _convert_text_encoder_lora_key},
 * {@code _maybe_map_sgm_blocks_to_diffusers}) and of the official AnimateDiff
 * animatediff/utils/convert_lora_safetensor_to_diffusers.py ({@code convert_lora},
 * {@code load_diffusers_lora}) for MotionLoRA and the v3 domain adapter.
 *
 * <p>Unlike the references, kohya's underscore names are never re-dotted by string rules or by
 * trial attribute lookups: each is looked up in an index of the target model's real module paths
 * written with {@code _} for {@code .} (diffusers names and, for the UNet, the original LDM names
 * derived from the same paths). A name that is absent or ambiguous is an error listing every such
 * key.
 *
 * <p>Formats read (keys as in the files):
 *
 * <pre>
 * kohya        lora_unet_{module}.lora_down.weight / .lora_up.weight / .alpha, lora_te_{module}...
 * PEFT         [unet.|text_encoder.]{module}.lora_A.weight / .lora_B.weight [, {module}.alpha]
 * diffusers    [unet.|text_encoder.]{module}.lora.down.weight / .lora.up.weight,
 *              {module}.lora_linear_layer.down.weight / .up.weight,
 *              {attention}[.processor].{to_q,to_k,to_v,to_out}_lora.down.weight / .up.weight
 * MotionLoRA   {block}.motion_modules.N.temporal_transformer.transformer_blocks.0.attention_blocks.K
 *              .processor.to_q_lora.down.weight (diffusers-converted: unet.{...}.attn1.processor...)
 * </pre>
 *
 * Refused with the format named: LyCORIS LoHa / LoKr / OFT / full-diff / norm, LoCon with CP
 * decomposition, DoRA, SDXL (two text encoders), PEFT embedding LoRA.
 */
public final class LoraKeys {
    private LoraKeys() {}

    /** A non-tensor entry AnimateDiff's own checkpoints carry; the official loader pops it. */
    static final String ANIMATEDIFF_CONFIG = "animatediff_config";

    private enum Role {
        DOWN,
        UP,
        ALPHA
    }

    private enum Family {
        KOHYA,
        PEFT,
        DIFFUSERS,
        PROCESSOR
    }

    /** One parsed key: which LoRA module it belongs to and its role there. */
    private record Part(String loraId, Role role, Family family, Component hint, String module, String projection) {}

    private static final Pattern KOHYA =
            Pattern.compile("^lora_(unet|te)_([A-Za-z0-9_]+)\\.(lora_down\\.weight|lora_up\\.weight|alpha)$");
    private static final Pattern PREFIX = Pattern.compile("^(unet|text_encoder|base_model\\.model)\\.(.+)$");
    private static final Pattern PROCESSOR =
            Pattern.compile("^(.+?)\\.(?:processor\\.)?(to_q|to_k|to_v|to_out)_lora\\.(down|up)\\.weight$");
    private static final Pattern PROCESSOR_ALPHA =
            Pattern.compile("^(.+?)\\.(?:processor\\.)?(to_q|to_k|to_v|to_out)_lora\\.alpha$");
    private static final Pattern DIFFUSERS =
            Pattern.compile("^(.+)\\.(?:lora|lora_linear_layer)\\.(down|up)\\.weight$");
    private static final Pattern PEFT = Pattern.compile("^(.+)\\.lora_(A|B)\\.weight$");
    private static final Pattern ALPHA = Pattern.compile("^(.+)\\.alpha$");

    // Exotic formats, each with the name shown in the error.
    private static final Map<Pattern, String> REFUSED = new LinkedHashMap<>();

    static {
        REFUSED.put(Pattern.compile("\\.hada_"), "LyCORIS LoHa (hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b)");
        REFUSED.put(Pattern.compile("\\.lokr_"), "LyCORIS LoKr (lokr_w1, lokr_w2, ...)");
        REFUSED.put(Pattern.compile("\\.lora_mid\\."), "LyCORIS LoCon with CP decomposition (lora_mid)");
        REFUSED.put(Pattern.compile("dora_scale|lora_magnitude_vector"), "DoRA (dora_scale / lora_magnitude_vector)");
        REFUSED.put(Pattern.compile("\\.oft_|\\.boft_"), "LyCORIS OFT / BOFT (oft_blocks, oft_diag)");
        REFUSED.put(Pattern.compile("\\.diff(_b)?$"), "LyCORIS full-rank difference (diff, diff_b)");
        REFUSED.put(Pattern.compile("\\.[wb]_norm$"), "LyCORIS norm-layer tuning (w_norm, b_norm)");
        REFUSED.put(
                Pattern.compile("^(lora_te1_|lora_te2_|text_encoder_2\\.)"),
                "SDXL LoRA (two text encoders: lora_te1_/lora_te2_, text_encoder_2)");
        REFUSED.put(Pattern.compile("lora_embedding_[AB]"), "PEFT embedding LoRA (lora_embedding_A/B)");
    }

    /**
     * Plans a LoRA file against a model.
     *
     * @param loraShapes every tensor of the LoRA file -> its shape (an alpha is a scalar: shape
     *     {@code []} or {@code [1]})
     * @param targetWeightKeysUNet the UNet's parameter keys (engine naming; motion modules in the
     *     official layout; only {@code *.weight} keys are LoRA targets)
     * @param targetWeightKeysTextEncoder the text encoder's parameter keys ({@code text_model.*})
     * @throws IllegalArgumentException naming the format for refused formats, and listing every
     *     unknown, unpaired, unresolvable, ambiguous, duplicated or mis-shaped key otherwise
     */
    public static LoraPlan plan(
            Map<String, long[]> loraShapes, Set<String> targetWeightKeysUNet, Set<String> targetWeightKeysTextEncoder) {
        // 1. refuse formats we do not merge, naming them
        refuseExotic(loraShapes.keySet());

        // 2. parse every key into (LoRA module id, role)
        List<String> unknown = new ArrayList<>();
        Map<String, Map<Role, String>> byId = new LinkedHashMap<>();
        Map<String, Part> firstPart = new HashMap<>();
        List<String> problems = new ArrayList<>();
        for (String key : loraShapes.keySet()) {
            if (key.equals(ANIMATEDIFF_CONFIG)) {
                continue;
            }
            Optional<Part> part = parse(key);
            if (part.isEmpty()) {
                unknown.add(key);
                continue;
            }
            Part p = part.get();
            String previous = byId.computeIfAbsent(p.loraId(), id -> new LinkedHashMap<>())
                    .putIfAbsent(p.role(), key);
            if (previous != null) {
                problems.add(
                        "'" + key + "' and '" + previous + "' are both the " + p.role() + " tensor of one LoRA module");
            }
            // remember a down/up part of each module (an alpha says less about the layout)
            firstPart.merge(p.loraId(), p, (old, nu) -> old.role() == Role.ALPHA ? nu : old);
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("LoRA file has " + unknown.size() + " keys in no known LoRA layout: "
                    + LdmKeyTable.sample(unknown) + ". Known: kohya lora_unet_*/lora_te_* with .lora_down.weight,"
                    + " .lora_up.weight, .alpha; PEFT *.lora_A.weight/*.lora_B.weight; diffusers *.lora.down/up.weight,"
                    + " *.lora_linear_layer.down/up.weight, *.processor.to_q_lora.down/up.weight (MotionLoRA).");
        }
        if (byId.isEmpty()) {
            throw new IllegalArgumentException("LoRA file holds no LoRA tensors");
        }

        // 3. resolve each module against the model's real module paths
        Index unetIndex = Index.unet(targetWeightKeysUNet);
        Index teIndex = Index.of(targetWeightKeysTextEncoder);
        List<String> unresolved = new ArrayList<>();
        List<LoraTarget> targets = new ArrayList<>();
        Map<String, String> targetedBy = new HashMap<>();
        Set<Family> families = EnumSet.noneOf(Family.class);
        boolean ldmNames = false;
        boolean allMotion = true;
        for (Map.Entry<String, Map<Role, String>> e : byId.entrySet()) {
            String id = e.getKey();
            Map<Role, String> roles = e.getValue();
            Part p = firstPart.get(id);
            if (!roles.containsKey(Role.DOWN) || !roles.containsKey(Role.UP)) {
                problems.add("LoRA module '" + id + "' lacks its " + (roles.containsKey(Role.DOWN) ? "up" : "down")
                        + " tensor (has " + roles.values() + ")");
                continue;
            }
            families.add(p.family());
            Resolution r;
            try {
                r = resolve(p, unetIndex, teIndex, targetWeightKeysUNet, targetWeightKeysTextEncoder);
            } catch (IllegalArgumentException ex) {
                unresolved.add(ex.getMessage());
                continue;
            }
            ldmNames |= r.ldmName();
            allMotion &= MotionKeys.isMotionKey(r.weightKey());
            String dup = targetedBy.putIfAbsent(r.component() + ":" + r.weightKey(), id);
            if (dup != null) {
                problems.add("LoRA modules '" + dup + "' and '" + id + "' both target " + r.component() + " '"
                        + r.weightKey() + "'");
                continue;
            }
            // 4. shapes: rank from down, checked against up; alpha is a scalar
            String down = roles.get(Role.DOWN);
            String up = roles.get(Role.UP);
            String alpha = roles.get(Role.ALPHA);
            try {
                int rank = rank(down, loraShapes.get(down), up, loraShapes.get(up));
                if (alpha != null) {
                    checkScalar(alpha, loraShapes.get(alpha));
                }
                LoraTarget.Kind kind = loraShapes.get(down).length == 4 ? LoraTarget.Kind.CONV : LoraTarget.Kind.LINEAR;
                targets.add(new LoraTarget(r.component(), r.weightKey(), down, up, alpha, rank, kind));
            } catch (IllegalArgumentException ex) {
                problems.add(ex.getMessage());
            }
        }
        if (!unresolved.isEmpty()) {
            problems.add(
                    0,
                    unresolved.size() + " LoRA modules name no module of the target model: "
                            + LdmKeyTable.sample(unresolved)
                            + ". Check the LoRA was made for an SD1.5-architecture model (not SDXL or SD2)");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("LoRA file cannot be applied: " + String.join("; ", problems));
        }
        return new LoraPlan(format(families, ldmNames, allMotion, byId.keySet()), targets);
    }

    private static void refuseExotic(Collection<String> keys) {
        Map<String, String> found = new LinkedHashMap<>();
        for (String key : keys) {
            for (Map.Entry<Pattern, String> r : REFUSED.entrySet()) {
                if (r.getKey().matcher(key).find()) {
                    found.putIfAbsent(r.getValue(), key);
                }
            }
        }
        if (!found.isEmpty()) {
            List<String> named = new ArrayList<>();
            found.forEach((format, key) -> named.add(format + ", e.g. '" + key + "'"));
            throw new IllegalArgumentException("LoRA file uses an unsupported format: " + String.join("; ", named)
                    + ". Supported: plain LoRA / LoCon (down + up, optional alpha) in kohya, PEFT or diffusers"
                    + " naming, and AnimateDiff MotionLoRA. Convert the file to plain LoRA with the tool that made"
                    + " it, or merge it into a checkpoint there.");
        }
    }

    private static Optional<Part> parse(String key) {
        Matcher m = KOHYA.matcher(key);
        if (m.matches()) {
            Component c = m.group(1).equals("unet") ? Component.UNET : Component.TEXT_ENCODER;
            Role role = m.group(3).startsWith("lora_down")
                    ? Role.DOWN
                    : m.group(3).startsWith("lora_up") ? Role.UP : Role.ALPHA;
            return Optional.of(
                    new Part("lora_" + m.group(1) + "_" + m.group(2), role, Family.KOHYA, c, m.group(2), null));
        }
        Component hint = null;
        String body = key;
        Matcher pre = PREFIX.matcher(key);
        if (pre.matches()) {
            hint = switch (pre.group(1)) {
                case "unet" -> Component.UNET;
                case "text_encoder" -> Component.TEXT_ENCODER;
                default -> null;
            };
            body = pre.group(2);
        }
        String prefix = key.substring(0, key.length() - body.length());
        if ((m = PROCESSOR.matcher(body)).matches()) {
            String id = prefix + body.substring(0, body.length() - (m.group(3).length() + ".weight".length() + 1));
            return Optional.of(new Part(id, role(m.group(3)), Family.PROCESSOR, hint, m.group(1), m.group(2)));
        }
        if ((m = PROCESSOR_ALPHA.matcher(body)).matches()) {
            String id = prefix + body.substring(0, body.length() - ".alpha".length());
            return Optional.of(new Part(id, Role.ALPHA, Family.PROCESSOR, hint, m.group(1), m.group(2)));
        }
        if ((m = DIFFUSERS.matcher(body)).matches()) {
            return Optional.of(
                    new Part(prefix + m.group(1), role(m.group(2)), Family.DIFFUSERS, hint, m.group(1), null));
        }
        if ((m = PEFT.matcher(body)).matches()) {
            Role role = m.group(2).equals("A") ? Role.DOWN : Role.UP;
            return Optional.of(new Part(prefix + m.group(1), role, Family.PEFT, hint, m.group(1), null));
        }
        if ((m = ALPHA.matcher(body)).matches()) {
            return Optional.of(new Part(prefix + m.group(1), Role.ALPHA, Family.PEFT, hint, m.group(1), null));
        }
        return Optional.empty();
    }

    private static Role role(String downOrUp) {
        return downOrUp.equals("down") ? Role.DOWN : Role.UP;
    }

    private record Resolution(Component component, String weightKey, boolean ldmName) {}

    private static Resolution resolve(
            Part p, Index unetIndex, Index teIndex, Set<String> unetKeys, Set<String> teKeys) {
        if (p.family() == Family.KOHYA) {
            Index index = p.hint() == Component.UNET ? unetIndex : teIndex;
            List<Index.Entry> hits = index.lookup(p.module());
            if (hits.isEmpty()) {
                throw new IllegalArgumentException("'" + p.loraId() + "' (" + p.hint() + ": no module path that reads '"
                        + p.module() + "' with '_' for '.')");
            }
            if (hits.size() > 1) {
                throw new IllegalArgumentException("'" + p.loraId() + "' is ambiguous: "
                        + hits.stream().map(Index.Entry::weightKey).toList());
            }
            return new Resolution(p.hint(), hits.get(0).weightKey(), hits.get(0).ldm());
        }
        List<Resolution> found = new ArrayList<>();
        List<String> tried = new ArrayList<>();
        for (Component c : List.of(Component.UNET, Component.TEXT_ENCODER)) {
            if (p.hint() != null && p.hint() != c) {
                continue;
            }
            Set<String> keys = c == Component.UNET ? unetKeys : teKeys;
            String module = p.projection() == null ? p.module() : p.module() + "." + projection(c, p.projection());
            String weight = module + ".weight";
            tried.add(c + " '" + weight + "'");
            Optional<String> hit = keys.contains(weight) ? Optional.of(weight) : motionCounterpart(weight, keys);
            hit.ifPresent(w -> found.add(new Resolution(c, w, false)));
        }
        if (found.isEmpty()) {
            throw new IllegalArgumentException("'" + p.loraId() + "' (no weight " + String.join(" or ", tried) + ")");
        }
        if (found.size() > 1) {
            throw new IllegalArgumentException("'" + p.loraId() + "' is ambiguous: it names "
                    + found.get(0).weightKey()
                    + " in both the UNet and the text encoder; prefix it with unet. or text_encoder.");
        }
        return found.get(0);
    }

    // attention-processor LoRA names the projection; the text encoder calls them q_proj ... out_proj
    private static String projection(Component c, String proj) {
        if (c == Component.TEXT_ENCODER) {
            return proj.equals("to_out") ? "out_proj" : proj.substring("to_".length()) + "_proj";
        }
        return proj.equals("to_out") ? "to_out.0" : proj;
    }

    private static Optional<String> motionCounterpart(String weight, Set<String> keys) {
        return MotionKeys.isMotionKey(weight) ? otherMotionName(weight).filter(keys::contains) : Optional.empty();
    }

    /** The name of a motion-module key in the other layout (official <-> diffusers), if it has one. */
    private static Optional<String> otherMotionName(String key) {
        try {
            return Optional.of(MotionKeys.toDiffusers(key));
        } catch (IllegalArgumentException notOfficial) {
            try {
                return Optional.of(MotionKeys.toOfficial(key));
            } catch (IllegalArgumentException neither) {
                return Optional.empty();
            }
        }
    }

    private static int rank(String downKey, long[] down, String upKey, long[] up) {
        if (down.length != 2 && down.length != 4) {
            throw new IllegalArgumentException(
                    "'" + downKey + "' has shape " + Arrays.toString(down) + ", expected (r, Cin) or (r, Cin, kh, kw)");
        }
        boolean conv = down.length == 4;
        boolean upOk = conv ? up.length == 4 && up[2] == 1 && up[3] == 1 : up.length == 2;
        if (!upOk) {
            throw new IllegalArgumentException("'" + upKey + "' has shape " + Arrays.toString(up) + ", expected "
                    + (conv ? "(Cout, r, 1, 1) for a conv LoRA" : "(Cout, r)") + " (down '" + downKey + "' is "
                    + Arrays.toString(down) + ")");
        }
        if (down[0] < 1 || up[1] != down[0]) {
            throw new IllegalArgumentException("rank mismatch: '" + downKey + "' " + Arrays.toString(down)
                    + " has rank " + down[0] + " but '" + upKey + "' " + Arrays.toString(up) + " has " + up[1]);
        }
        return Math.toIntExact(down[0]);
    }

    private static void checkScalar(String alphaKey, long[] shape) {
        long numel = 1;
        for (long d : shape) {
            numel *= d;
        }
        if (shape.length > 1 || numel != 1) {
            throw new IllegalArgumentException(
                    "'" + alphaKey + "' has shape " + Arrays.toString(shape) + ", expected a scalar alpha");
        }
    }

    private static LoraPlan.Format format(Set<Family> families, boolean ldmNames, boolean allMotion, Set<String> ids) {
        Set<Family> kinds = EnumSet.copyOf(families);
        if (kinds.contains(Family.PROCESSOR) && kinds.contains(Family.DIFFUSERS)) {
            kinds.remove(Family.PROCESSOR);
        }
        if (kinds.size() > 1) {
            throw new IllegalArgumentException("LoRA file mixes key layouts " + new TreeSet<>(kinds)
                    + " (modules " + LdmKeyTable.sample(new ArrayList<>(ids)) + "); no tool writes such files:"
                    + " split it per layout");
        }
        return switch (kinds.iterator().next()) {
            case KOHYA -> ldmNames ? LoraPlan.Format.KOHYA_LDM : LoraPlan.Format.KOHYA;
            case PEFT -> LoraPlan.Format.PEFT;
            case DIFFUSERS -> LoraPlan.Format.DIFFUSERS;
            case PROCESSOR -> allMotion ? LoraPlan.Format.ANIMATEDIFF_MOTION_LORA : LoraPlan.Format.DIFFUSERS;
        };
    }

    /** Module paths of a model, written with '_' for '.', -> the weight key(s) they name. */
    private static final class Index {
        record Entry(String weightKey, boolean ldm) {}

        private final Map<String, Set<Entry>> byFlatName = new HashMap<>();

        /** Every weight under its diffusers module path. */
        static Index of(Collection<String> keys) {
            Index index = new Index();
            for (String k : keys) {
                if (k.endsWith(".weight")) {
                    index.add(flat(k), new Entry(k, false));
                }
            }
            return index;
        }

        /** Like {@link #of}, plus motion modules under their other layout's names and base modules under LDM names. */
        static Index unet(Collection<String> keys) {
            Index index = of(keys);
            // motion modules also under their diffusers MotionAdapter names
            for (String k : keys) {
                if (k.endsWith(".weight") && MotionKeys.isMotionKey(k)) {
                    otherMotionName(k).ifPresent(other -> index.add(flat(other), new Entry(k, false)));
                }
            }
            List<String> base =
                    keys.stream().filter(k -> !MotionKeys.isMotionKey(k)).toList();
            Optional<LdmNames.UNetNaming> naming = LdmNames.UNetNaming.infer(base);
            if (naming.isPresent()) {
                for (String k : base) {
                    if (!k.endsWith(".weight")) {
                        continue;
                    }
                    try {
                        index.add(flat(LdmNames.unet(k, naming.get())), new Entry(k, true));
                    } catch (IllegalArgumentException noLdmName) {
                        // a module outside the SD1.x structure has only its diffusers name
                    }
                }
            }
            return index;
        }

        private void add(String flatName, Entry e) {
            byFlatName.computeIfAbsent(flatName, n -> new LinkedHashSet<>()).add(e);
        }

        List<Entry> lookup(String flatName) {
            Set<Entry> entries = byFlatName.get(flatName);
            return entries == null ? List.of() : List.copyOf(entries);
        }

        private static String flat(String weightKey) {
            return weightKey
                    .substring(0, weightKey.length() - ".weight".length())
                    .replace('.', '_');
        }
    }
}
