package io.animatediff.common.store;

/**
 * What a put stored.
 *
 * @param key object key
 * @param size bytes
 * @param sha256 lowercase hex sha256 of the bytes sent (also stored as {@code x-amz-meta-sha256})
 * @param etag the server's ETag
 */
public record PutResult(String key, long size, String sha256, String etag) {}
