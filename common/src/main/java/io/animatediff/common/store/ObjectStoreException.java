package io.animatediff.common.store;

/**
 * An object-store operation failed; the message says what, where (bucket, key, endpoint) and what
 * to do.
 */
public class ObjectStoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String bucket;
    private final String key;
    private final String endpoint;
    private final boolean transientFailure;

    public ObjectStoreException(
            String message, String bucket, String key, String endpoint, boolean transientFailure, Throwable cause) {
        super(message, cause);
        this.bucket = bucket;
        this.key = key;
        this.endpoint = endpoint;
        this.transientFailure = transientFailure;
    }

    public String bucket() {
        return bucket;
    }

    /** The object key, or null for bucket operations. */
    public String key() {
        return key;
    }

    public String endpoint() {
        return endpoint;
    }

    /** Whether the failure was transient (retries were exhausted) rather than a refusal. */
    public boolean isTransient() {
        return transientFailure;
    }
}
