package io.animatediff.engine.convert;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renames the attention keys of diffusers checkpoints saved before diffusers 0.14 (the VAE's
 * mid-block attention as {@code query, key, value, proj_attn}) to the current names
 * {@code to_q, to_k, to_v, to_out.0}; {@code group_norm} is unchanged. Ports
 * {@code ModelMixin._fix_state_dict_keys_on_load} (diffusers models/modeling_utils.py), which applies
 * the same renames to the paths of deprecated attention blocks. Those tensors are already linear
 * {@code (C, C)}.
 */
public final class LegacyDiffusersKeys {
    private LegacyDiffusersKeys() {}

    private static final Pattern LEGACY =
            Pattern.compile("^(.*\\battentions\\.\\d+)\\.(query|key|value|proj_attn)\\.(weight|bias)$");
    private static final Map<String, String> NEW_NAMES =
            Map.of("query", "to_q", "key", "to_k", "value", "to_v", "proj_attn", "to_out.0");

    /** The current name of a key; keys that are not legacy attention keys come back unchanged. */
    public static String rename(String key) {
        Matcher m = LEGACY.matcher(key);
        if (!m.matches()) {
            return key;
        }
        return m.group(1) + "." + NEW_NAMES.get(m.group(2)) + "." + m.group(3);
    }

    /** True if {@link #rename} changes the key. */
    public static boolean isLegacy(String key) {
        return LEGACY.matcher(key).matches();
    }
}
