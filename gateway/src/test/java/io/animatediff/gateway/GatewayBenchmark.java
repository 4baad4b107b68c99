package io.animatediff.gateway;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.S3ProxyServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.test.KafkaClusterTestKit;

/**
 * Gateway accept rate and latency for job submissions over HTTP (targets: >= 500 submissions/s,
 * p99 < 50 ms). Starts an in-process Kafka broker and S3Proxy, runs the packaged gateway ({@code
 * gateway/target/quarkus-app/quarkus-run.jar}) as a separate process as local mode does, then
 * submits from {@code threads} concurrent clients. A program, not a test:
 *
 * <pre>
 * ./mvnw -pl gateway -am install -DskipTests
 * ./mvnw -pl gateway exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=io.animatediff.gateway.GatewayBenchmark [-Dexec.args="3000 16"]
 * </pre>
 */
public final class GatewayBenchmark {
    private GatewayBenchmark() {}

    public static void main(String[] args) throws Exception {
        int requests = args.length > 0 ? Integer.parseInt(args[0]) : 3000;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        Path jar = Path.of(args.length > 2 ? args[2] : "target/quarkus-app/quarkus-run.jar");
        if (!Files.isRegularFile(jar)) {
            jar = Path.of("gateway").resolve(jar);
        }
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("no packaged gateway at " + jar.toAbsolutePath()
                    + ": run ./mvnw -pl gateway -am install -DskipTests first");
        }
        KafkaClusterTestKit kafka = InProcessKafka.startBroker();
        Process gateway = null;
        try (S3ProxyServer s3 = S3ProxyServer.startInMemory();
                ObjectStore store = s3.newStore("bench")) {
            // 1. models the requests name
            ModelRegistry registry = new ModelRegistry(store);
            Path w = Files.write(Files.createTempFile("bench", ".safetensors"), new byte[] {1, 2, 3});
            registry.register(
                    ModelKind.BASE,
                    "b",
                    ModelFormat.LDM_SAFETENSORS,
                    List.of(LocalModelFile.of("m.safetensors", w)),
                    Map.of());
            registry.register(
                    ModelKind.MOTION,
                    "m",
                    ModelFormat.MOTION_SAFETENSORS,
                    List.of(LocalModelFile.of("mm.safetensors", w)),
                    Map.of("max_frames", 32));
            // 2. the packaged gateway, as a process
            int port = freePort();
            ProcessBuilder pb = new ProcessBuilder(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx512m",
                    "-jar",
                    jar.toAbsolutePath().toString());
            pb.environment()
                    .putAll(Map.of(
                            "KAFKA_BOOTSTRAP_SERVERS",
                            kafka.bootstrapServers(),
                            "QUARKUS_HTTP_PORT",
                            Integer.toString(port),
                            "ANIMATEDIFF_S3_ENDPOINT",
                            s3.endpoint(),
                            "ANIMATEDIFF_S3_ACCESS_KEY",
                            S3ProxyServer.ACCESS_KEY,
                            "ANIMATEDIFF_S3_SECRET_KEY",
                            S3ProxyServer.SECRET_KEY,
                            "ANIMATEDIFF_S3_BUCKET",
                            "bench",
                            "ANIMATEDIFF_API_KEY_HASHES",
                            ApiKeys.hash("bench-key"),
                            "ANIMATEDIFF_RATE_LIMIT_RATE",
                            "1000000",
                            "ANIMATEDIFF_RATE_LIMIT_BURST",
                            "1000000"));
            pb.redirectErrorStream(true)
                    .redirectOutput(Path.of("target", "benchmark-gateway.log").toFile());
            long t0 = System.nanoTime();
            gateway = pb.start();
            HttpClient http = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(2))
                    .build();
            URI base = URI.create("http://127.0.0.1:" + port);
            waitReady(http, base, gateway);
            System.out.printf(
                    "gateway ready in %.1f s (java -jar, in-process Kafka + S3Proxy)%n",
                    (System.nanoTime() - t0) / 1e9);
            // 3. warm up, then measure
            run(http, base, Math.min(500, requests), threads);
            long[] latencies = new long[requests];
            long start = System.nanoTime();
            int failures = run(http, base, requests, threads, latencies);
            double seconds = (System.nanoTime() - start) / 1e9;
            Arrays.sort(latencies);
            System.out.printf(
                    "submissions: %d in %.2f s = %.0f/s with %d clients; latency p50 %.1f ms, p99 %.1f ms, max %.1f"
                            + " ms; failures %d (targets: >= 500/s, p99 < 50 ms)%n",
                    requests,
                    seconds,
                    requests / seconds,
                    threads,
                    latencies[requests / 2] / 1e6,
                    latencies[(int) Math.ceil(requests * 0.99) - 1] / 1e6,
                    latencies[requests - 1] / 1e6,
                    failures);
        } finally {
            if (gateway != null) {
                gateway.destroy();
                gateway.waitFor();
            }
            kafka.close();
        }
    }

    private static int run(HttpClient http, URI base, int n, int threads) throws Exception {
        return run(http, base, n, threads, new long[n]);
    }

    private static int run(HttpClient http, URI base, int n, int threads, long[] latencies) throws Exception {
        String body = "{\"prompt\": \"a cat walking\", \"base_model\": \"b\", \"motion_module\": \"m\","
                + " \"num_frames\": 16, \"width\": 256, \"height\": 256}";
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                fs.add(pool.submit(() -> {
                    for (int i; (i = next.getAndIncrement()) < n; ) {
                        long t0 = System.nanoTime();
                        try {
                            HttpResponse<String> r = http.send(
                                    HttpRequest.newBuilder(base.resolve("/v1/animations"))
                                            .header("Authorization", "Bearer bench-key")
                                            .header("Content-Type", "application/json")
                                            .POST(HttpRequest.BodyPublishers.ofString(body))
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (r.statusCode() != 202) {
                                failures.incrementAndGet();
                            }
                        } catch (IOException | InterruptedException e) {
                            failures.incrementAndGet();
                        }
                        latencies[i] = System.nanoTime() - t0;
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
        return failures.get();
    }

    private static void waitReady(HttpClient http, URI base, Process gateway) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (!gateway.isAlive()) {
                throw new IllegalStateException(
                        "the gateway exited with " + gateway.exitValue() + ": see target/benchmark-gateway.log");
            }
            try {
                HttpResponse<String> r = http.send(
                        HttpRequest.newBuilder(base.resolve("/q/health/ready")).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("the gateway was not ready within 60 s: see target/benchmark-gateway.log");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
