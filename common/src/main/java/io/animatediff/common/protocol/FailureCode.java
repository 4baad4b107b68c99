package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonEnumDefaultValue;

/**
 * Machine-readable reason of a {@link JobEventType#FAILED} event, with whether another attempt can
 * succeed. A code this version does not know reads as {@link #UNKNOWN} (never a parse failure), so
 * adding a code does not break older consumers.
 */
public enum FailureCode {
    /** The request failed validation on the worker (e.g. a model's frame limit). */
    INVALID_REQUEST(false),
    /** A named model is not registered. */
    MODEL_NOT_FOUND(false),
    /** A model file failed its sha256 check or could not be parsed. */
    MODEL_CORRUPT(false),
    /** The worker ran out of (device) memory for this size. */
    OUT_OF_MEMORY(false),
    /** Object storage could not be reached or refused the request. */
    STORAGE_UNAVAILABLE(true),
    /** The job ran longer than allowed. */
    TIMEOUT(true),
    /** A bug or an unexpected condition in the worker. */
    INTERNAL(true),
    /** A code written by a newer version. */
    @JsonEnumDefaultValue
    UNKNOWN(false);

    private final boolean retryable;

    FailureCode(boolean retryable) {
        this.retryable = retryable;
    }

    /** Whether another attempt (on this or another worker) may succeed. */
    public boolean retryable() {
        return retryable;
    }
}
