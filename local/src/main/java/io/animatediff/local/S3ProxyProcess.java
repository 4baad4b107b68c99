package io.animatediff.local;

import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.RetryPolicy;
import io.animatediff.common.store.StoreConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * S3Proxy (a real S3-protocol server) on a local folder ({@code <state>/s3}, kept between runs) as a
 * child process on loopback: {@code org.gaul.s3proxy.Main --properties s3proxy.conf} with the
 * jclouds {@code filesystem} provider. Ready once a real MinIO client has made the bucket.
 */
public final class S3ProxyProcess {
    public static final String COMPONENT = "s3proxy";
    /** Heap of the S3Proxy process. */
    public static final String HEAP = "-Xmx256m";

    private static final SecureRandom RANDOM = new SecureRandom();

    /**
     * S3Proxy's jar has no logback configuration, so logback's default logs Jetty at DEBUG: tens of
     * thousands of lines per job and real CPU on a small machine. INFO it is.
     */
    static final String LOGBACK = String.join(
            System.lineSeparator(),
            "<configuration>",
            "  <appender name=\"OUT\" class=\"ch.qos.logback.core.ConsoleAppender\">",
            "    <encoder><pattern>%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n</pattern></encoder>",
            "  </appender>",
            "  <logger name=\"org.gaul.shaded.org.eclipse.jetty\" level=\"WARN\"/>",
            "  <root level=\"INFO\"><appender-ref ref=\"OUT\"/></root>",
            "</configuration>",
            "");

    private S3ProxyProcess() {}

    /** The running server and how to reach it (fresh credentials each run). */
    public record Started(ChildProcess process, StoreConfig store) {}

    /** Starts S3Proxy and waits until the bucket exists. */
    public static Started start(LocalLayout layout, String bucket, Duration timeout, ProcessOwner owner)
            throws ComponentException {
        layout.requireBuilt(COMPONENT, layout.s3proxyLib());
        int port = Ports.free();
        String endpoint = "http://" + Ports.LOOPBACK + ":" + port;
        StoreConfig store = new StoreConfig(endpoint, "local-" + hex(6), hex(20), bucket, StoreConfig.DEFAULT_REGION);
        return launch(layout, store, timeout, owner, layout.log(COMPONENT));
    }

    /**
     * Starts S3Proxy again for an existing store (same port, credentials and folder), as after an
     * outage, and waits until the bucket answers.
     */
    public static Started restart(LocalLayout layout, StoreConfig store, Duration timeout, ProcessOwner owner)
            throws ComponentException {
        return launch(layout, store, timeout, owner, layout.log(COMPONENT + "-restarted"));
    }

    private static Started launch(LocalLayout layout, StoreConfig store, Duration timeout, ProcessOwner owner, Path log)
            throws ComponentException {
        Path conf = layout.stateDir().resolve("s3proxy.conf");
        Path logback = layout.stateDir().resolve("s3proxy-logback.xml");
        try {
            Files.createDirectories(layout.s3Dir());
            Files.writeString(conf, properties(store, layout.s3Dir()));
            Files.writeString(logback, LOGBACK);
        } catch (IOException e) {
            throw new ComponentException(COMPONENT, "cannot prepare " + layout.s3Dir() + ": " + e.getMessage(), null);
        }
        ChildProcess process = ChildProcess.start(
                COMPONENT,
                List.of(
                        LocalLayout.java(),
                        HEAP,
                        "-Dlogback.configurationFile=" + logback,
                        "-cp",
                        layout.s3proxyLib() + "/*",
                        "org.gaul.s3proxy.Main",
                        "--properties",
                        conf.toString()),
                Map.of(),
                layout.stateDir(),
                log);
        owner.adopt(process);
        try {
            awaitBucket(store, process, log, timeout);
        } catch (ComponentException e) {
            process.close();
            throw e;
        }
        return new Started(process, store);
    }

    /** Waits until a MinIO client can make (or finds) the bucket. */
    public static void awaitBucket(StoreConfig store, ChildProcess process, Path log, Duration timeout)
            throws ComponentException {
        try (ObjectStore client = new ObjectStore(store, RetryPolicy.NONE)) {
            Readiness.await(
                    COMPONENT,
                    process,
                    log,
                    timeout,
                    "a MinIO client makes bucket " + store.bucket() + " at " + store.endpoint(),
                    client::ensureBucket);
        }
    }

    static String properties(StoreConfig store, Path dir) {
        return String.join(
                System.lineSeparator(),
                "# local mode: S3Proxy on a local folder",
                "s3proxy.endpoint=" + store.endpoint(),
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + store.accessKey(),
                "s3proxy.credential=" + store.secretKey(),
                "jclouds.provider=filesystem",
                "jclouds.filesystem.basedir=" + dir.toAbsolutePath(),
                "");
    }

    private static String hex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
