package io.animatediff.common.store;

/**
 * Options of a put.
 *
 * @param contentType MIME type stored with the object (default {@code application/octet-stream})
 * @param expectedSha256 if not null, the upload is refused (before sending when the data can be
 *     hashed first, otherwise deleted after) unless the data hashes to it
 * @param verify read the object back after the upload and compare its sha256 and size
 */
public record PutOptions(String contentType, String expectedSha256, boolean verify) {
    public static final String OCTET_STREAM = "application/octet-stream";

    /** Octet stream, no expected hash, no read-back. */
    public static final PutOptions DEFAULT = new PutOptions(OCTET_STREAM, null, false);

    public PutOptions {
        contentType = contentType == null || contentType.isBlank() ? OCTET_STREAM : contentType;
        if (expectedSha256 != null && !Sha256.isHex(expectedSha256)) {
            throw new IllegalArgumentException(
                    "expected sha256 '" + expectedSha256 + "' is not 64 lowercase hex digits");
        }
    }

    public PutOptions withContentType(String type) {
        return new PutOptions(type, expectedSha256, verify);
    }

    public PutOptions expectingSha256(String sha256) {
        return new PutOptions(contentType, sha256, verify);
    }

    /** Read back and compare after the upload. */
    public PutOptions verified() {
        return new PutOptions(contentType, expectedSha256, true);
    }
}
