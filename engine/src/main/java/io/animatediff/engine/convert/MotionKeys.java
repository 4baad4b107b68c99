package io.animatediff.engine.convert;

import java.util.Collection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Motion-module keys between the official AnimateDiff layout (what the engine holds) and diffusers'
 * MotionAdapter layout. Ports diffusers' scripts/convert_animatediff_motion_module_to_diffusers.py
 * ({@code convert_motion_module}) and its inverse:
 *
 * <pre>
 * official  {block}.motion_modules.{j}.temporal_transformer.{norm, proj_in, proj_out}
 *           ...temporal_transformer.transformer_blocks.{t}.attention_blocks.{0,1}.{to_q,to_k,to_v,to_out.0}
 *           ...temporal_transformer.transformer_blocks.{t}.{norms.0, norms.1, ff_norm, ff.net.0.proj, ff.net.2}
 * diffusers {block}.motion_modules.{j}.{norm, proj_in, proj_out}
 *           ...transformer_blocks.{t}.{attn1, attn2}.{to_q,to_k,to_v,to_out.0}
 *           ...transformer_blocks.{t}.{norm1, norm2, norm3, ff.net.0.proj, ff.net.2}
 * </pre>
 *
 * The positional buffers have no 1:1 image (official: one {@code pos_encoder.pe} per attention,
 * diffusers: one {@code pos_embed.pe} per transformer block); both references skip them on load and
 * recompute the encoding, so callers filter them with {@link #isPositionalBuffer} first. Everything
 * after the renamed segment passes through unchanged, so module paths and LoRA keys convert too.
 */
public final class MotionKeys {
    private MotionKeys() {}

    private static final Pattern MODULE =
            Pattern.compile("^((?:down_blocks|up_blocks)\\.\\d+|mid_block)\\.motion_modules\\.(\\d+)\\.(.+)$");
    private static final Pattern DIFFUSERS_BLOCK =
            Pattern.compile("^transformer_blocks\\.(\\d+)\\.(attn1|attn2|norm1|norm2|norm3|ff|pos_embed)(\\..+|)$");
    private static final Pattern OFFICIAL_BLOCK = Pattern.compile(
            "^transformer_blocks\\.(\\d+)\\.(attention_blocks\\.\\d+|norms\\.\\d+|ff_norm|ff)(\\..+|)$");
    private static final Pattern TOP = Pattern.compile("^(norm|proj_in|proj_out)(\\..+|)$");
    private static final String TT = "temporal_transformer.";

    /** True if the key lies inside a motion module ({@code ...motion_modules.N....}). */
    public static boolean isMotionKey(String key) {
        return MODULE.matcher(key).matches();
    }

    /** True for the sinusoidal position-encoding buffers ({@code pos_encoder.pe}, diffusers {@code pos_embed.pe}). */
    public static boolean isPositionalBuffer(String key) {
        return key.endsWith(".pos_encoder.pe") || key.endsWith(".pos_embed.pe");
    }

    /**
     * The official name of a diffusers MotionAdapter key, e.g.
     * {@code down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.to_q.weight} ->
     * {@code down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.to_q.weight}.
     *
     * @throws IllegalArgumentException for keys outside a motion module, already official keys and
     *     positional buffers
     */
    public static String toOfficial(String diffusersKey) {
        Matcher m = module(diffusersKey);
        String head = m.group(1) + ".motion_modules." + m.group(2) + ".";
        String rest = m.group(3);
        if (rest.startsWith(TT)) {
            throw new IllegalArgumentException("'" + diffusersKey + "' is already in the official layout");
        }
        Matcher top = TOP.matcher(rest);
        if (top.matches()) {
            return head + TT + rest;
        }
        Matcher b = DIFFUSERS_BLOCK.matcher(rest);
        if (!b.matches()) {
            throw unknown(diffusersKey, "diffusers");
        }
        String renamed = switch (b.group(2)) {
            case "attn1" -> "attention_blocks.0";
            case "attn2" -> "attention_blocks.1";
            case "norm1" -> "norms.0";
            case "norm2" -> "norms.1";
            case "norm3" -> "ff_norm";
            case "ff" -> "ff";
            default -> throw positional(diffusersKey);
        };
        return head + TT + "transformer_blocks." + b.group(1) + "." + renamed + b.group(3);
    }

    /**
     * The diffusers MotionAdapter name of an official key (inverse of {@link #toOfficial}).
     *
     * @throws IllegalArgumentException for keys outside a motion module, diffusers-layout keys,
     *     positional buffers and attention/norm indices diffusers has no name for (only two
     *     attentions per block)
     */
    public static String toDiffusers(String officialKey) {
        Matcher m = module(officialKey);
        String head = m.group(1) + ".motion_modules." + m.group(2) + ".";
        String rest = m.group(3);
        if (!rest.startsWith(TT)) {
            throw new IllegalArgumentException("'" + officialKey + "' is not in the official layout (no "
                    + TT.substring(0, TT.length() - 1) + ")");
        }
        rest = rest.substring(TT.length());
        if (TOP.matcher(rest).matches()) {
            return head + rest;
        }
        Matcher b = OFFICIAL_BLOCK.matcher(rest);
        if (!b.matches()) {
            throw unknown(officialKey, "official");
        }
        String tail = b.group(3);
        String renamed = switch (b.group(2)) {
            case "attention_blocks.0" -> "attn1";
            case "attention_blocks.1" -> "attn2";
            case "norms.0" -> "norm1";
            case "norms.1" -> "norm2";
            case "ff_norm" -> "norm3";
            case "ff" -> "ff";
            default ->
                throw new IllegalArgumentException("'" + officialKey + "': diffusers' MotionAdapter"
                        + " has two attentions per block (attention_blocks.0/1, norms.0/1); this module has more");
        };
        if (b.group(2).startsWith("attention_blocks.") && tail.startsWith(".pos_encoder")) {
            throw positional(officialKey);
        }
        return head + "transformer_blocks." + b.group(1) + "." + renamed + tail;
    }

    /**
     * True if the motion-module keys among these are all in diffusers' MotionAdapter layout (and
     * there is at least one). Keys outside motion modules are not judged here.
     */
    public static boolean isDiffusersLayout(Collection<String> keys) {
        return layout(keys, false);
    }

    /**
     * True if the motion-module keys among these are all in the official layout (and there is at
     * least one). Keys outside motion modules are not judged here.
     */
    public static boolean isOfficialLayout(Collection<String> keys) {
        return layout(keys, true);
    }

    private static boolean layout(Collection<String> keys, boolean official) {
        boolean any = false;
        for (String k : keys) {
            Matcher m = MODULE.matcher(k);
            if (!m.matches()) {
                continue;
            }
            any = true;
            if (m.group(3).startsWith(TT) != official) {
                return false;
            }
        }
        return any;
    }

    private static Matcher module(String key) {
        Matcher m = MODULE.matcher(key);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + key + "' is not a motion-module key"
                    + " ({down_blocks.i|up_blocks.i|mid_block}.motion_modules.j.*)");
        }
        return m;
    }

    private static IllegalArgumentException unknown(String key, String layout) {
        return new IllegalArgumentException("'" + key + "' is not a known " + layout + " motion-module key: expected"
                + " norm, proj_in, proj_out or transformer_blocks.N.{attention, norm, ff} parts");
    }

    private static IllegalArgumentException positional(String key) {
        return new IllegalArgumentException("'" + key + "' is a position-encoding buffer: it has no counterpart in the"
                + " other layout and is recomputed on load; filter it with MotionKeys.isPositionalBuffer first");
    }
}
