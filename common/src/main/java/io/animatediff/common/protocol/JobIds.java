package io.animatediff.common.protocol;

import io.animatediff.common.InvalidMessageException;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Job ids: {@code [A-Za-z0-9][A-Za-z0-9_-]{0,127}}. Everything a job writes lives under keys derived
 * from its id ({@code results/<jobId>/...}), so an id is one safe path segment.
 */
public final class JobIds {
    /** The pattern every job id matches. */
    public static final Pattern PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,127}");

    private JobIds() {}

    /** A new random id (UUID text, 36 characters). */
    public static String newId() {
        return UUID.randomUUID().toString();
    }

    public static boolean isValid(String id) {
        return id != null && PATTERN.matcher(id).matches();
    }

    /** Returns the id, or throws naming {@code field} when it is not a valid job id. */
    public static String require(String id, String field) {
        if (!isValid(id)) {
            throw new InvalidMessageException(
                    field,
                    "job id '" + id + "' is invalid: use 1-128 characters of A-Z, a-z, 0-9, '_', '-'"
                            + " starting with a letter or digit",
                    null);
        }
        return id;
    }
}
