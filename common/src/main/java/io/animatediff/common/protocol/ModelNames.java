package io.animatediff.common.protocol;

import java.util.regex.Pattern;

/**
 * Model names: {@code [a-z0-9][a-z0-9._-]{0,63}}. A name is one path segment of {@code
 * models/<kind>/<name>/}, so it can never climb out of its folder.
 */
public final class ModelNames {
    /** The pattern every model name matches. */
    public static final Pattern PATTERN = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    private ModelNames() {}

    public static boolean isValid(String name) {
        return name != null && PATTERN.matcher(name).matches();
    }

    /** What a valid name looks like, for messages. */
    public static String rule() {
        return "1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit";
    }
}
