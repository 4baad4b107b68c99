package io.animatediff.common.store;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;

/**
 * A real S3-protocol server in-process (S3Proxy 4.1.0, AWS V2/V4 signatures) on a free loopback
 * port, for tests of every module. Published in common's test-jar: depend on {@code
 * animatediff-common} with {@code <type>test-jar</type>} and on {@code org.gaul:s3proxy}, both in
 * test scope.
 *
 * <pre>{@code
 * try (S3ProxyServer s3 = S3ProxyServer.startInMemory();
 *         ObjectStore store = s3.newStore("test-bucket")) {
 *     store.put("a/b", bytes);
 * }
 * }</pre>
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String ACCESS_KEY = "animatediff-test";
    public static final String SECRET_KEY = "animatediff-test-secret-123";

    private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

    private final BlobStore blobStore;
    private final int port;
    private final String endpoint;
    private volatile S3Proxy proxy;

    private S3ProxyServer(BlobStore blobStore, S3Proxy proxy) {
        this.blobStore = blobStore;
        this.proxy = proxy;
        this.port = proxy.getPort();
        this.endpoint = "http://127.0.0.1:" + port;
    }

    /** A server keeping objects in memory (gone when closed). */
    public static S3ProxyServer startInMemory() throws Exception {
        return start(new TransientNio2BlobStore());
    }

    /** A server keeping objects under {@code dir} (created if absent), one folder per bucket. */
    public static S3ProxyServer startOnDisk(Path dir) throws Exception {
        Files.createDirectories(dir);
        return start(new FilesystemNio2BlobStore(dir.toAbsolutePath().toString()));
    }

    private static S3ProxyServer start(BlobStore blobStore) throws Exception {
        return new S3ProxyServer(blobStore, startProxy(blobStore, 0));
    }

    private static S3Proxy startProxy(BlobStore blobStore, int port) throws Exception {
        S3Proxy proxy = S3Proxy.builder()
                .blobStore(blobStore)
                .endpoint(URI.create("http://127.0.0.1:" + port))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .build();
        proxy.start();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() - deadline > 0) {
                proxy.stop();
                throw new IllegalStateException(
                        "S3Proxy did not start within " + START_TIMEOUT + " (state " + proxy.getState() + ")");
            }
            Thread.sleep(10);
        }
        return proxy;
    }

    /**
     * Stops serving (connections are refused from now on) but keeps the objects: a storage outage
     * that {@link #restart} ends.
     */
    public void stop() throws Exception {
        proxy.stop();
    }

    /** Serves the same objects again on the same port after {@link #stop}. */
    public void restart() throws Exception {
        proxy = startProxy(blobStore, port);
    }

    /** {@code http://127.0.0.1:<port>}. */
    public String endpoint() {
        return endpoint;
    }

    public int port() {
        return proxy.getPort();
    }

    /** A store configuration for {@code bucket} on this server. */
    public StoreConfig config(String bucket) {
        return new StoreConfig(endpoint, ACCESS_KEY, SECRET_KEY, bucket, StoreConfig.DEFAULT_REGION);
    }

    /** A store on {@code bucket}, bucket created, default retries. */
    public ObjectStore newStore(String bucket) {
        return newStore(bucket, RetryPolicy.DEFAULT);
    }

    /** A store on {@code bucket}, bucket created. */
    public ObjectStore newStore(String bucket, RetryPolicy retry) {
        ObjectStore store = new ObjectStore(config(bucket), retry);
        store.ensureBucket();
        return store;
    }

    @Override
    public void close() throws Exception {
        proxy.stop();
    }
}
