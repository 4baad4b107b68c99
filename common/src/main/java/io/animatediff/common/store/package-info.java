/**
 * Object storage over the MinIO Java client, against any S3-protocol server (MinIO, S3, S3Proxy).
 * Every stored object carries its sha256 as user metadata ({@code x-amz-meta-sha256}); failures
 * surface as {@link io.animatediff.common.store.ObjectStoreException} naming bucket, key and
 * endpoint.
 */
package io.animatediff.common.store;
