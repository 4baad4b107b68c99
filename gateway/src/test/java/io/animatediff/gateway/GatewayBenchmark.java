package io.animatediff.gateway;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.S3ProxyServer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.test.KafkaClusterTestKit;

/**
 * Gateway accept rate and latency for job submissions over HTTP (targets: >= 500 submissions/s,
 * p99 < 50 ms). Starts an in-process Kafka broker and S3Proxy, runs the packaged gateway ({@code
 * gateway/target/quarkus-app/quarkus-run.jar}) as a separate process as local mode does, then:
 *
 * <ol>
 *   <li>warm-up: {@code --warmup} seconds of closed-loop submissions (the JIT compiles the hot paths);
 *   <li>closed loop: {@code --concurrency} clients submitting back to back for {@code --seconds}: the
 *       most the gateway accepts;
 *   <li>open loop: {@code --rate} submissions/s for {@code --seconds}, each latency measured from its
 *       scheduled start, so a stall is not hidden by clients that wait (no coordinated omission).
 * </ol>
 *
 * It prints the gateway's CPU time per submission (the figure that decides the rate on a machine
 * whose cores are shared with the broker and the clients). A program, not a test:
 *
 * <pre>
 * ./mvnw -pl gateway -am install -DskipTests
 * ./mvnw -pl gateway exec:java -Dexec.classpathScope=test -Dexec.mainClass=io.animatediff.gateway.GatewayBenchmark \
 *     [-Dexec.args="--warmup 15 --seconds 10 --concurrency 16 --rate 500 --jvm-args -Xmx512m"]
 * </pre>
 */
public final class GatewayBenchmark {
    private static final String BODY =
            "{\"prompt\": \"a cat walking\", \"base_model\": \"b\", \"motion_module\": \"m\","
                    + " \"num_frames\": 16, \"width\": 256, \"height\": 256}";

    private GatewayBenchmark() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = options(args);
        int warmup = Integer.parseInt(opts.getOrDefault("warmup", "15"));
        int seconds = Integer.parseInt(opts.getOrDefault("seconds", "10"));
        int concurrency = Integer.parseInt(opts.getOrDefault("concurrency", "16"));
        int rate = Integer.parseInt(opts.getOrDefault("rate", "500"));
        String jvmArgs = opts.getOrDefault("jvm-args", "-Xmx512m");
        Path jar = Path.of(opts.getOrDefault("jar", "target/quarkus-app/quarkus-run.jar"));
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
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            if (!jvmArgs.isBlank()) {
                command.addAll(Arrays.asList(jvmArgs.trim().split("\\s+")));
            }
            command.add("-jar");
            command.add(jar.toAbsolutePath().toString());
            ProcessBuilder pb = new ProcessBuilder(command);
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
            pb.environment().put("QUARKUS_HTTP_HOST", "127.0.0.1");
            // no worker drains the queue: the quota would refuse all but the first jobs with 429
            pb.environment().put("ANIMATEDIFF_QUEUE_QUOTA_MAX_ACTIVE_JOBS_PER_KEY", "100000000");
            Path log = Path.of("target", "benchmark-gateway.log");
            Files.createDirectories(log.getParent());
            pb.redirectErrorStream(true).redirectOutput(log.toFile());
            long t0 = System.nanoTime();
            gateway = pb.start();
            HttpClient http = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(2))
                    .build();
            URI base = URI.create("http://127.0.0.1:" + port);
            waitReady(http, base, gateway);
            System.out.printf(
                    "gateway ready in %.1f s (java %s -jar, in-process Kafka + S3Proxy); load average %.1f on %d"
                            + " cores%n",
                    (System.nanoTime() - t0) / 1e9,
                    jvmArgs,
                    loadAverage(),
                    Runtime.getRuntime().availableProcessors());
            HttpRequest submit = HttpRequest.newBuilder(base.resolve("/v1/animations"))
                    .header("Authorization", "Bearer bench-key")
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(BODY))
                    .build();
            // 3. warm up, then measure
            closedLoop(http, submit, concurrency, warmup, "warm-up (JIT)");
            Duration cpu0 = cpu(gateway);
            int closed = closedLoop(http, submit, concurrency, seconds, "closed loop");
            Duration cpu1 = cpu(gateway);
            int open = openLoop(http, submit, rate, seconds);
            Duration cpu2 = cpu(gateway);
            System.out.printf(
                    "gateway CPU per submission: %.2f ms (closed loop), %.2f ms (open loop); load average now %.1f"
                            + " (targets: >= 500/s, p99 < 50 ms)%n",
                    (cpu1.toNanos() - cpu0.toNanos()) / 1e6 / Math.max(1, closed),
                    (cpu2.toNanos() - cpu1.toNanos()) / 1e6 / Math.max(1, open),
                    loadAverage());
        } finally {
            if (gateway != null) {
                gateway.destroy();
                gateway.waitFor();
            }
            kafka.close();
        }
    }

    private static int closedLoop(HttpClient http, HttpRequest submit, int clients, int seconds, String phase)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        AtomicInteger failures = new AtomicInteger();
        List<Future<long[]>> parts = new ArrayList<>();
        long t0 = System.nanoTime();
        try {
            for (int c = 0; c < clients; c++) {
                parts.add(pool.submit(() -> {
                    long[] lat = new long[1024];
                    int n = 0;
                    while (System.nanoTime() < end) {
                        long s = System.nanoTime();
                        if (send(http, submit) != 202) {
                            failures.incrementAndGet();
                        }
                        if (n == lat.length) {
                            lat = Arrays.copyOf(lat, n * 2);
                        }
                        lat[n++] = System.nanoTime() - s;
                    }
                    return Arrays.copyOf(lat, n);
                }));
            }
            long[] all = new long[0];
            for (Future<long[]> f : parts) {
                long[] a = f.get();
                int at = all.length;
                all = Arrays.copyOf(all, at + a.length);
                System.arraycopy(a, 0, all, at, a.length);
            }
            report(phase + " (" + clients + " clients)", all, (System.nanoTime() - t0) / 1e9, failures.get());
            return all.length;
        } finally {
            pool.shutdown();
        }
    }

    private static int openLoop(HttpClient http, HttpRequest submit, int rate, int seconds) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(64);
        int total = rate * seconds;
        long period = 1_000_000_000L / rate;
        long t0 = System.nanoTime() + 50_000_000L;
        AtomicInteger failures = new AtomicInteger();
        List<Future<Long>> futures = new ArrayList<>(total);
        try {
            for (int i = 0; i < total; i++) {
                long scheduled = t0 + i * period;
                long wait = scheduled - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait);
                }
                futures.add(pool.submit(() -> {
                    if (send(http, submit) != 202) {
                        failures.incrementAndGet();
                    }
                    return System.nanoTime() - scheduled;
                }));
            }
            long[] lat = new long[total];
            for (int i = 0; i < total; i++) {
                lat[i] = futures.get(i).get();
            }
            report("open loop at " + rate + "/s", lat, (System.nanoTime() - t0) / 1e9, failures.get());
            return total;
        } finally {
            pool.shutdown();
        }
    }

    private static int send(HttpClient http, HttpRequest r) {
        try {
            return http.send(r, HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static void report(String phase, long[] lat, double seconds, int failures) {
        Arrays.sort(lat);
        System.out.printf(
                "%-26s %6d submissions in %5.1f s = %5.0f/s  p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  failures %d%n",
                phase,
                lat.length,
                seconds,
                lat.length / seconds,
                percentile(lat, 0.50),
                percentile(lat, 0.99),
                lat.length == 0 ? 0 : lat[lat.length - 1] / 1e6,
                failures);
    }

    private static double percentile(long[] sorted, double p) {
        return sorted.length == 0 ? 0 : sorted[Math.max(0, (int) Math.ceil(p * sorted.length) - 1)] / 1e6;
    }

    private static Duration cpu(Process p) {
        return p.toHandle().info().totalCpuDuration().orElse(Duration.ZERO);
    }

    private static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --name value pairs (--warmup, --seconds, --concurrency,"
                        + " --rate, --jvm-args, --jar), got: " + String.join(" ", args));
            }
            out.put(args[i].substring(2), args[i + 1]);
        }
        return out;
    }

    private static void waitReady(HttpClient http, URI base, Process gateway) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
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
        throw new IllegalStateException("the gateway was not ready within 300 s: see target/benchmark-gateway.log");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
