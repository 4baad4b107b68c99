package io.animatediff.common.store;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * An object's metadata ({@code stat}).
 *
 * @param key object key
 * @param size bytes
 * @param etag the server's ETag
 * @param lastModified last write
 * @param contentType stored MIME type
 * @param userMetadata {@code x-amz-meta-*} values by lowercase name without the prefix
 */
public record ObjectInfo(
        String key,
        long size,
        String etag,
        Instant lastModified,
        String contentType,
        Map<String, String> userMetadata) {
    /** User metadata name of the sha256 recorded at upload. */
    public static final String SHA256_METADATA = "sha256";

    public ObjectInfo {
        userMetadata = Map.copyOf(userMetadata);
    }

    /** The sha256 recorded when this store uploaded the object (absent for foreign uploads). */
    public Optional<String> sha256() {
        return Optional.ofNullable(userMetadata.get(SHA256_METADATA));
    }
}
