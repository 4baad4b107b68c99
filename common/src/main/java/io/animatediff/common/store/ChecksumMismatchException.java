package io.animatediff.common.store;

/** Bytes did not hash to the sha256 they were expected to have. */
public final class ChecksumMismatchException extends ObjectStoreException {
    private static final long serialVersionUID = 1L;

    private final String expected;
    private final String actual;

    public ChecksumMismatchException(
            String message, String bucket, String key, String endpoint, String expected, String actual) {
        super(message, bucket, key, endpoint, false, null);
        this.expected = expected;
        this.actual = actual;
    }

    public String expected() {
        return expected;
    }

    public String actual() {
        return actual;
    }
}
