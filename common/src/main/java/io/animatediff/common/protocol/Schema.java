package io.animatediff.common.protocol;

import io.animatediff.common.InvalidMessageException;

/** Version of the queue message format. Bump on a change an older consumer must not misread. */
public final class Schema {
    /** The version this code writes and the newest it reads. */
    public static final int CURRENT = 1;

    /** JSON field name of the version in every queue message. */
    public static final String FIELD = "schema";

    private Schema() {}

    /** Accepts versions 1..{@link #CURRENT}; otherwise says which side must be upgraded. */
    public static int check(int schema, String message) {
        if (schema > CURRENT) {
            throw new InvalidMessageException(
                    FIELD,
                    message + " has schema " + schema + ", newer than this service reads (" + CURRENT
                            + "): upgrade this service, or have the producer write schema " + CURRENT,
                    null);
        }
        if (schema < 1) {
            throw new InvalidMessageException(
                    FIELD, message + " has schema " + schema + ": schema versions start at 1", null);
        }
        return schema;
    }
}
