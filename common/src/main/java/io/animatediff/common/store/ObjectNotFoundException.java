package io.animatediff.common.store;

/** The key does not exist in the bucket. */
public final class ObjectNotFoundException extends ObjectStoreException {
    private static final long serialVersionUID = 1L;

    public ObjectNotFoundException(String message, String bucket, String key, String endpoint, Throwable cause) {
        super(message, bucket, key, endpoint, false, cause);
    }
}
