package io.animatediff.common.store;

import io.minio.BucketExistsArgs;
import io.minio.CopyObjectArgs;
import io.minio.Directive;
import io.minio.GetObjectArgs;
import io.minio.GetPresignedObjectUrlArgs;
import io.minio.Http;
import io.minio.ListObjectsArgs;
import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.ObjectWriteResponse;
import io.minio.PutObjectArgs;
import io.minio.RemoveObjectArgs;
import io.minio.Result;
import io.minio.SourceObject;
import io.minio.StatObjectArgs;
import io.minio.StatObjectResponse;
import io.minio.errors.ErrorResponseException;
import io.minio.errors.InvalidResponseException;
import io.minio.errors.ServerException;
import io.minio.messages.Item;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;

/**
 * The fleet's bucket over the MinIO client. Thread-safe; one instance per process is enough.
 *
 * <ul>
 *   <li>Every put records the object's sha256 as user metadata {@code sha256} and returns it.
 *   <li>Transient failures (connection refused/reset, timeouts, HTTP 5xx/408/429, S3
 *       SlowDown/InternalError) are retried per {@link RetryPolicy}; the MinIO client's own retry
 *       interceptor is not installed, so attempts are counted in one place. A put from an {@link
 *       InputStream} cannot be replayed and is tried once.
 *   <li>Every failure is an {@link ObjectStoreException} naming bucket, key and endpoint; a missing
 *       key is an {@link ObjectNotFoundException}, a hash mismatch a {@link
 *       ChecksumMismatchException}.
 * </ul>
 */
public class ObjectStore implements AutoCloseable {
    /** Part size of multipart uploads; smaller objects go in one PUT. */
    static final long PART_SIZE = 64L << 20;

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration IO_TIMEOUT = Duration.ofMinutes(2);
    private static final Duration MAX_PRESIGN = Duration.ofDays(7);
    private static final Set<String> TRANSIENT_CODES = Set.of(
            "InternalError",
            "RequestTimeout",
            "RequestError",
            "ServiceUnavailable",
            "SlowDown",
            "SlowDownRead",
            "SlowDownWrite",
            "Throttling",
            "ThrottlingException",
            "RequestThrottled",
            "RequestLimitExceeded");
    private static final Set<String> MISSING_CODES = Set.of("NoSuchKey", "NoSuchObject", "ResourceNotFound");

    private final StoreConfig config;
    private final RetryPolicy retry;
    private final MinioClient client;

    public ObjectStore(StoreConfig config) {
        this(config, RetryPolicy.DEFAULT);
    }

    public ObjectStore(StoreConfig config, RetryPolicy retry) {
        this.config = Objects.requireNonNull(config, "config");
        this.retry = Objects.requireNonNull(retry, "retry");
        OkHttpClient http = new OkHttpClient.Builder()
                .connectTimeout(CONNECT_TIMEOUT)
                .readTimeout(IO_TIMEOUT)
                .writeTimeout(IO_TIMEOUT)
                .protocols(List.of(Protocol.HTTP_1_1))
                .build();
        this.client = MinioClient.builder()
                .endpoint(config.endpoint())
                .region(config.region())
                .credentials(config.accessKey(), config.secretKey())
                .httpClient(http, true)
                .build();
    }

    public StoreConfig config() {
        return config;
    }

    public String bucket() {
        return config.bucket();
    }

    /** Creates the bucket unless it exists (safe when several services race to create it). */
    public void ensureBucket() {
        call("create bucket", null, () -> {
            if (!client.bucketExists(BucketExistsArgs.builder().bucket(bucket()).build())) {
                try {
                    client.makeBucket(MakeBucketArgs.builder().bucket(bucket()).build());
                } catch (ErrorResponseException e) {
                    String code = e.errorResponse().code();
                    if (!"BucketAlreadyOwnedByYou".equals(code) && !"BucketAlreadyExists".equals(code)) {
                        throw e;
                    }
                }
            }
            return null;
        });
    }

    // ---------------------------------------------------------------- put

    /** Stores bytes; returns their sha256. */
    public PutResult put(String key, byte[] data) {
        return put(key, data, PutOptions.DEFAULT);
    }

    /** Stores bytes; refuses them before sending if they do not match {@code expectedSha256}. */
    public PutResult put(String key, byte[] data, PutOptions options) {
        checkKey(key);
        String sha = Sha256.hex(data);
        checkExpected(key, options, sha, "the data to upload");
        ObjectWriteResponse response = call(
                "put",
                key,
                () -> client.putObject(PutObjectArgs.builder()
                        .bucket(bucket())
                        .object(key)
                        .data(data, data.length)
                        .contentType(options.contentType())
                        .userMetadata(Map.of(ObjectInfo.SHA256_METADATA, sha))
                        .build()));
        PutResult result = new PutResult(key, data.length, sha, response.etag());
        if (options.verify()) {
            verifyStored(result);
        }
        return result;
    }

    /** Uploads a file; returns its sha256. */
    public PutResult put(String key, Path file) {
        return put(key, file, PutOptions.DEFAULT);
    }

    /**
     * Uploads a file, hashing it first (to refuse a mismatch before sending) and again while
     * sending (to catch a file changed in between: the object is then deleted).
     */
    public PutResult put(String key, Path file, PutOptions options) {
        checkKey(key);
        long size;
        String sha;
        try {
            size = Files.size(file);
            sha = Sha256.hex(file);
        } catch (IOException e) {
            throw new ObjectStoreException(
                    "cannot read local file " + file + " to upload as " + where(key) + ": " + e,
                    bucket(),
                    key,
                    config.endpoint(),
                    false,
                    e);
        }
        checkExpected(key, options, sha, "local file " + file);
        String[] sent = new String[1];
        ObjectWriteResponse response = call("put", key, () -> {
            try (DigestInputStream in = new DigestInputStream(Files.newInputStream(file), Sha256.newDigest())) {
                ObjectWriteResponse r = client.putObject(
                        PutObjectArgs.builder().bucket(bucket()).object(key).stream(in, size, PART_SIZE)
                                .contentType(options.contentType())
                                .userMetadata(Map.of(ObjectInfo.SHA256_METADATA, sha))
                                .build());
                sent[0] = Sha256.hex(in.getMessageDigest());
                return r;
            }
        });
        if (!sha.equals(sent[0])) {
            deleteQuietly(key);
            throw new ChecksumMismatchException(
                    "local file " + file + " changed while it was uploaded to " + where(key) + " (sha256 " + sha
                            + " before, " + sent[0] + " sent): the object was deleted; upload it again once the"
                            + " file is complete",
                    bucket(),
                    key,
                    config.endpoint(),
                    sha,
                    sent[0]);
        }
        PutResult result = new PutResult(key, size, sha, response.etag());
        if (options.verify()) {
            verifyStored(result);
        }
        return result;
    }

    /**
     * Uploads exactly {@code length} bytes from a stream (not closed), hashing them on the way. A
     * stream cannot be replayed, so this is one attempt. With {@code expectedSha256} a mismatch
     * deletes the object and throws; without it the computed sha256 is recorded by a server-side
     * copy after the upload.
     */
    public PutResult put(String key, InputStream in, long length, PutOptions options) {
        checkKey(key);
        if (length < 0) {
            throw new IllegalArgumentException("length must be >= 0 for " + where(key) + ", got " + length);
        }
        DigestInputStream digesting = new DigestInputStream(in, Sha256.newDigest());
        Map<String, String> metadata = options.expectedSha256() == null
                ? Map.of()
                : Map.of(ObjectInfo.SHA256_METADATA, options.expectedSha256());
        ObjectWriteResponse response = once(
                "put",
                key,
                () -> client.putObject(
                        PutObjectArgs.builder().bucket(bucket()).object(key).stream(digesting, length, PART_SIZE)
                                .contentType(options.contentType())
                                .userMetadata(metadata)
                                .build()));
        String sha = Sha256.hex(digesting.getMessageDigest());
        if (options.expectedSha256() != null && !options.expectedSha256().equals(sha)) {
            deleteQuietly(key);
            throw new ChecksumMismatchException(
                    "uploaded data for " + where(key) + " has sha256 " + sha + ", expected "
                            + options.expectedSha256() + ": the object was deleted; check the source and the"
                            + " declared hash",
                    bucket(),
                    key,
                    config.endpoint(),
                    options.expectedSha256(),
                    sha);
        }
        if (options.expectedSha256() == null) {
            recordSha256(key, sha, options.contentType());
        }
        PutResult result = new PutResult(key, length, sha, response.etag());
        if (options.verify()) {
            verifyStored(result);
        }
        return result;
    }

    private void recordSha256(String key, String sha, String contentType) {
        call(
                "record sha256 of",
                key,
                () -> client.copyObject(CopyObjectArgs.builder()
                        .bucket(bucket())
                        .object(key)
                        .source(SourceObject.builder()
                                .bucket(bucket())
                                .object(key)
                                .build())
                        .metadataDirective(Directive.REPLACE)
                        .headers(Map.of("Content-Type", contentType))
                        .userMetadata(Map.of(ObjectInfo.SHA256_METADATA, sha))
                        .build()));
    }

    private void checkExpected(String key, PutOptions options, String sha, String what) {
        if (options.expectedSha256() != null && !options.expectedSha256().equals(sha)) {
            throw new ChecksumMismatchException(
                    what + " for " + where(key) + " has sha256 " + sha + ", expected " + options.expectedSha256()
                            + ": nothing was uploaded; check the source and the declared hash",
                    bucket(),
                    key,
                    config.endpoint(),
                    options.expectedSha256(),
                    sha);
        }
    }

    /** Reads the object back and compares size and sha256; deletes it and throws on a mismatch. */
    private void verifyStored(PutResult expected) {
        String key = expected.key();
        long[] size = new long[1];
        String actual = call("verify", key, () -> {
            try (InputStream in = client.getObject(
                    GetObjectArgs.builder().bucket(bucket()).object(key).build())) {
                CountingDigest counting = new CountingDigest();
                counting.consume(in);
                size[0] = counting.count;
                return Sha256.hex(counting.digest);
            }
        });
        if (!expected.sha256().equals(actual) || size[0] != expected.size()) {
            deleteQuietly(key);
            throw new ChecksumMismatchException(
                    "object " + where(key) + " read back as " + size[0] + " bytes with sha256 " + actual + ", but "
                            + expected.size() + " bytes with sha256 " + expected.sha256() + " were sent: the object"
                            + " was deleted; check the storage server and upload again",
                    bucket(),
                    key,
                    config.endpoint(),
                    expected.sha256(),
                    actual);
        }
    }

    // ---------------------------------------------------------------- get

    /** Opens the object for reading; the caller closes the stream. Opening is retried. */
    public InputStream get(String key) {
        checkKey(key);
        return call(
                "get",
                key,
                () -> client.getObject(
                        GetObjectArgs.builder().bucket(bucket()).object(key).build()));
    }

    /** Reads the whole object into memory (retried as a whole). */
    public byte[] getBytes(String key) {
        checkKey(key);
        return call("get", key, () -> {
            try (InputStream in = client.getObject(
                    GetObjectArgs.builder().bucket(bucket()).object(key).build())) {
                return in.readAllBytes();
            }
        });
    }

    /** Reads a UTF-8 text object. */
    public String getString(String key) {
        return new String(getBytes(key), StandardCharsets.UTF_8);
    }

    /**
     * Downloads the object to {@code target} atomically (a temporary file in the same folder,
     * moved into place), checking its sha256 when {@code expectedSha256} is not null. Returns the
     * sha256 of the bytes written.
     */
    public String download(String key, Path target, String expectedSha256) {
        checkKey(key);
        Path dir = target.toAbsolutePath().getParent();
        String sha = call("download", key, () -> {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, target.getFileName().toString(), ".part");
            try {
                MessageDigest digest = Sha256.newDigest();
                try (InputStream in = client.getObject(GetObjectArgs.builder()
                                .bucket(bucket())
                                .object(key)
                                .build());
                        OutputStream out = Files.newOutputStream(tmp)) {
                    byte[] buffer = new byte[1 << 16];
                    for (int n; (n = in.read(buffer)) > 0; ) {
                        digest.update(buffer, 0, n);
                        out.write(buffer, 0, n);
                    }
                }
                String actual = Sha256.hex(digest);
                if (expectedSha256 == null || expectedSha256.equals(actual)) {
                    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                }
                return actual;
            } finally {
                Files.deleteIfExists(tmp);
            }
        });
        if (expectedSha256 != null && !expectedSha256.equals(sha)) {
            throw new ChecksumMismatchException(
                    "object " + where(key) + " has sha256 " + sha + ", expected " + expectedSha256
                            + ": nothing was written to " + target + "; the stored object is corrupt or was"
                            + " replaced, upload it again",
                    bucket(),
                    key,
                    config.endpoint(),
                    expectedSha256,
                    sha);
        }
        return sha;
    }

    /** Hashes the stored bytes (reads the whole object; use for uploads this store did not make). */
    public String computeSha256(String key) {
        checkKey(key);
        return call("hash", key, () -> {
            try (InputStream in = client.getObject(
                    GetObjectArgs.builder().bucket(bucket()).object(key).build())) {
                return Sha256.hex(in);
            }
        });
    }

    // ---------------------------------------------------------------- metadata

    /** The object's metadata; {@link ObjectNotFoundException} when absent. */
    public ObjectInfo stat(String key) {
        checkKey(key);
        StatObjectResponse r = call(
                "stat",
                key,
                () -> client.statObject(
                        StatObjectArgs.builder().bucket(bucket()).object(key).build()));
        Map<String, String> metadata = new HashMap<>();
        for (Map.Entry<String, String> e : r.userMetadata().entries()) {
            metadata.putIfAbsent(e.getKey().toLowerCase(java.util.Locale.ROOT), e.getValue());
        }
        return new ObjectInfo(key, r.size(), r.etag(), r.lastModified().toInstant(), r.contentType(), metadata);
    }

    public boolean exists(String key) {
        try {
            stat(key);
            return true;
        } catch (ObjectNotFoundException e) {
            return false;
        }
    }

    /** Deletes the object; deleting a missing key succeeds. */
    public void delete(String key) {
        checkKey(key);
        call("delete", key, () -> {
            client.removeObject(
                    RemoveObjectArgs.builder().bucket(bucket()).object(key).build());
            return null;
        });
    }

    /** Deletes every object under {@code prefix}; returns how many. */
    public int deletePrefix(String prefix) {
        List<ObjectSummary> objects = list(prefix);
        for (ObjectSummary o : objects) {
            delete(o.key());
        }
        return objects.size();
    }

    /** Every object whose key starts with {@code prefix} (recursive), sorted by key. */
    public List<ObjectSummary> list(String prefix) {
        checkPrefix(prefix);
        return call("list", prefix, () -> {
            List<ObjectSummary> out = new ArrayList<>();
            for (Result<Item> r : client.listObjects(ListObjectsArgs.builder()
                    .bucket(bucket())
                    .prefix(prefix)
                    .recursive(true)
                    .build())) {
                Item item = r.get();
                if (!item.isDir()) {
                    out.add(new ObjectSummary(
                            item.objectName(),
                            item.size(),
                            item.etag() == null ? "" : item.etag().replace("\"", ""),
                            item.lastModified() == null
                                    ? null
                                    : item.lastModified().toInstant()));
                }
            }
            out.sort(Comparator.comparing(ObjectSummary::key));
            return out;
        });
    }

    // ---------------------------------------------------------------- presigned URLs

    /** A URL anyone can GET the object with until {@code expiry} passes (1 s to 7 days). */
    public URI presignedGet(String key, Duration expiry) {
        return presign(Http.Method.GET, key, expiry);
    }

    /** A URL anyone can PUT the object's bytes to until {@code expiry} passes (1 s to 7 days). */
    public URI presignedPut(String key, Duration expiry) {
        return presign(Http.Method.PUT, key, expiry);
    }

    private URI presign(Http.Method method, String key, Duration expiry) {
        checkKey(key);
        if (expiry.compareTo(Duration.ofSeconds(1)) < 0 || expiry.compareTo(MAX_PRESIGN) > 0) {
            throw new IllegalArgumentException("presigned URL expiry " + expiry + " for " + where(key)
                    + " is outside 1 s to 7 days (the S3 limit): pass a duration in that range");
        }
        String url = once(
                "presign " + method + " for",
                key,
                () -> client.getPresignedObjectUrl(GetPresignedObjectUrlArgs.builder()
                        .method(method)
                        .bucket(bucket())
                        .object(key)
                        .expiry((int) expiry.toSeconds(), TimeUnit.SECONDS)
                        .build()));
        return URI.create(url);
    }

    @Override
    public void close() {
        try {
            client.close();
        } catch (Exception e) {
            throw new ObjectStoreException(
                    "cannot close the S3 client for " + config.endpoint() + ": " + e,
                    bucket(),
                    null,
                    config.endpoint(),
                    false,
                    e);
        }
    }

    // ---------------------------------------------------------------- keys

    /**
     * Refuses keys that are empty, longer than 1024 UTF-8 bytes, absolute, with empty, "." or ".."
     * segments, or with control characters or backslashes.
     */
    public static void checkKey(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("object key is empty: pass a key such as results/<jobId>/animation.gif");
        }
        if (key.getBytes(StandardCharsets.UTF_8).length > 1024) {
            throw new IllegalArgumentException(
                    "object key is longer than 1024 bytes (the S3 limit): '" + key.substring(0, 64) + "...'");
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("object key '" + key
                        + "' has an empty, '.' or '..' segment: pass a relative key of plain segments");
            }
        }
        checkCharacters(key);
    }

    /** A listing prefix: empty (everything) or a key prefix, optionally ending in '/'. */
    public static void checkPrefix(String prefix) {
        if (prefix == null) {
            throw new IllegalArgumentException("prefix is null: pass \"\" to list everything");
        }
        if (prefix.isEmpty()) {
            return;
        }
        checkKey(prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix);
    }

    private static void checkCharacters(String key) {
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\') {
                throw new IllegalArgumentException("object key '" + key.replaceAll("\\p{Cntrl}", "?")
                        + "' contains a control character or backslash at index " + i + ": remove it");
            }
        }
    }

    // ---------------------------------------------------------------- retries and errors

    /** One S3 action. */
    @FunctionalInterface
    private interface Action<T> {
        T run() throws Exception;
    }

    private String where(String key) {
        return "s3://" + bucket() + "/" + (key == null ? "" : key) + " at " + config.endpoint();
    }

    private <T> T once(String op, String key, Action<T> action) {
        try {
            return action.run();
        } catch (Exception e) {
            throw translate(op, key, e, 1, isTransient(e));
        }
    }

    private <T> T call(String op, String key, Action<T> action) {
        for (int attempt = 1; ; attempt++) {
            try {
                return action.run();
            } catch (Exception e) {
                boolean transientFailure = isTransient(e);
                if (!transientFailure || attempt >= retry.maxAttempts()) {
                    throw translate(op, key, e, attempt, transientFailure);
                }
                sleep(retry.backoff(attempt), op, key, e);
            }
        }
    }

    private void sleep(Duration d, String op, String key, Exception cause) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            ObjectStoreException e = new ObjectStoreException(
                    op + " " + where(key) + " was interrupted while waiting to retry after: " + describe(cause),
                    bucket(),
                    key,
                    config.endpoint(),
                    true,
                    cause);
            e.addSuppressed(ie);
            throw e;
        }
    }

    private void deleteQuietly(String key) {
        try {
            delete(key);
        } catch (ObjectStoreException ignored) {
            // the caller reports the original problem; a leftover object is rewritten by a retry
        }
    }

    /** Whether another attempt may succeed. */
    static boolean isTransient(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ErrorResponseException ere) {
                int status = ere.response() == null ? 0 : ere.response().code();
                return TRANSIENT_CODES.contains(ere.errorResponse().code()) || transientStatus(status);
            }
            if (t instanceof ServerException se) {
                return transientStatus(se.statusCode());
            }
            if (t instanceof InvalidResponseException) {
                return true; // a non-S3 answer, typically a proxy's 502 page
            }
            if (t instanceof FileSystemException) {
                return false; // local files: retrying does not help
            }
            if (t instanceof IOException) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    private static boolean transientStatus(int status) {
        return status >= 500 || status == 408 || status == 429;
    }

    private ObjectStoreException translate(String op, String key, Exception e, int attempts, boolean transientFailure) {
        if (e instanceof ObjectStoreException ose) {
            return ose;
        }
        String endpoint = config.endpoint();
        ErrorResponseException ere = find(e, ErrorResponseException.class);
        if (ere != null) {
            String code = ere.errorResponse().code();
            int status = ere.response() == null ? 0 : ere.response().code();
            if (MISSING_CODES.contains(code) || (status == 404 && key != null && !"NoSuchBucket".equals(code))) {
                return new ObjectNotFoundException(
                        op + " " + where(key) + ": no such object: check the key, or that whatever writes it has"
                                + " finished",
                        bucket(),
                        key,
                        endpoint,
                        e);
            }
            if ("NoSuchBucket".equals(code)) {
                return new ObjectStoreException(
                        op + " " + where(key) + ": bucket '" + bucket() + "' does not exist: create it"
                                + " (ObjectStore.ensureBucket) or set " + StoreConfig.ENV_BUCKET,
                        bucket(),
                        key,
                        endpoint,
                        false,
                        e);
            }
            if ("AccessDenied".equals(code)
                    || "InvalidAccessKeyId".equals(code)
                    || "SignatureDoesNotMatch".equals(code)) {
                return new ObjectStoreException(
                        op + " " + where(key) + ": the server refused the credentials (" + code + "): check "
                                + StoreConfig.ENV_ACCESS_KEY + " and " + StoreConfig.ENV_SECRET_KEY
                                + " and the bucket policy",
                        bucket(),
                        key,
                        endpoint,
                        false,
                        e);
            }
        }
        if (transientFailure) {
            return new ObjectStoreException(
                    op + " " + where(key) + " failed after " + attempts + (attempts == 1 ? " attempt" : " attempts")
                            + ": " + describe(e) + ": check that the S3 server is up and reachable and that "
                            + StoreConfig.ENV_ENDPOINT + " points at it",
                    bucket(),
                    key,
                    endpoint,
                    true,
                    e);
        }
        return new ObjectStoreException(
                op + " " + where(key) + " failed: " + describe(e), bucket(), key, endpoint, false, e);
    }

    private static String describe(Throwable e) {
        ErrorResponseException ere = find(e, ErrorResponseException.class);
        if (ere != null) {
            return ere.errorResponse().code() + " (" + ere.errorResponse().message() + ")";
        }
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + (root.getMessage() == null ? "" : " (" + root.getMessage() + ")");
    }

    private static <X extends Throwable> X find(Throwable e, Class<X> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }

    /** Counts and hashes a stream. */
    private static final class CountingDigest {
        final MessageDigest digest = Sha256.newDigest();
        long count;

        void consume(InputStream in) throws IOException {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
                count += n;
            }
        }
    }
}
