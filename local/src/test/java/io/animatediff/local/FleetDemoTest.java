package io.animatediff.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./animatediff demo} without the script: the broker, S3Proxy, the gateway and a worker as
 * child processes (one fleet for the class), the sample job over HTTP, its GIF downloaded by
 * presigned URL with the requested frame count; a job submitted with a {@code Callback-Url} whose
 * events reach a real HTTP receiver on loopback signed, retried with backoff through 500s, up to
 * SUCCEEDED; and nothing left running afterwards. Needs the packaged gateway and worker: skipped
 * (with the reason) until they are built.
 */
class FleetDemoTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The receiver answers 500 to this many first deliveries, so the dispatcher must retry. */
    private static final int FAILURES = 2;
    /** First retry delay given to the gateway ({@code ANIMATEDIFF_WEBHOOK_BACKOFF_MS}), doubled per retry. */
    private static final long BACKOFF_MS = 300;

    @TempDir
    static Path state;

    @TempDir
    static Path out;

    static LocalMode mode;
    static HttpServer receiver;
    static String secret;
    static final List<Delivery> DELIVERIES = new CopyOnWriteArrayList<>();
    static final AtomicInteger FAILURES_LEFT = new AtomicInteger(FAILURES);

    /** One POST the receiver got: headers, body, what it answered and when it arrived. */
    record Delivery(String id, String timestamp, String signature, byte[] body, int status, long nanos) {}

    @BeforeAll
    static void fleet() throws Exception {
        LocalLayout layout = TestLayouts.settings(state, true).layout();
        for (Path needed : List.of(layout.gatewayJar(), layout.workerClasses(), layout.workerLib())) {
            assumeTrue(
                    Files.exists(needed),
                    "skipped: " + needed + " is missing (package the gateway and worker first: ./mvnw -B -q -DskipTests"
                            + " package)");
        }
        receiver = HttpServer.create(new InetSocketAddress(Ports.LOOPBACK, 0), 16);
        receiver.createContext("/hooks/", ex -> {
            long nanos = System.nanoTime();
            byte[] body = ex.getRequestBody().readAllBytes();
            int status = FAILURES_LEFT.getAndDecrement() > 0 ? 500 : 204;
            DELIVERIES.add(new Delivery(
                    ex.getRequestHeaders().getFirst("Webhook-Id"),
                    ex.getRequestHeaders().getFirst("Webhook-Timestamp"),
                    ex.getRequestHeaders().getFirst("Webhook-Signature"),
                    body,
                    status,
                    nanos));
            ex.sendResponseHeaders(status, -1);
            ex.close();
        });
        receiver.start();
        secret = "whsec-" + UUID.randomUUID();
        Map<String, String> gatewayEnv = Map.of(
                "ANIMATEDIFF_WEBHOOK_ALLOWED_URLS",
                hooks(),
                "ANIMATEDIFF_WEBHOOK_SECRET",
                secret,
                "ANIMATEDIFF_WEBHOOK_BACKOFF_MS",
                Long.toString(BACKOFF_MS),
                "ANIMATEDIFF_WEBHOOK_MAX_ATTEMPTS",
                "6");
        try {
            mode = LocalMode.start(TestLayouts.settings(state, true), System.out, Map.of(), gatewayEnv);
        } catch (ComponentException e) {
            throw new AssertionError(e.report(), e);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (receiver != null) {
            receiver.stop(0);
        }
        if (mode == null) {
            return;
        }
        mode.close();
        List<ProcessHandle> alive = TestLayouts.aliveDescendants(Duration.ofSeconds(5));
        assertTrue(alive.isEmpty(), "child processes left: " + TestLayouts.describe(alive));
    }

    /** The allow-listed prefix: {@code http://127.0.0.1:<receiver port>/hooks/}. */
    static String hooks() {
        return "http://" + Ports.LOOPBACK + ":" + receiver.getAddress().getPort() + "/hooks/";
    }

    @Test
    void sampleJobOverHttpReachesTheGif() throws Exception {
        LocalLayout layout = mode.settings().layout();
        assertEquals(
                Files.isDirectory(layout.trainerLib()) ? 5 : 4,
                mode.processes().size(),
                "kafka, s3proxy, gateway, worker and (when built) trainer processes");
        // an earlier run's larger files in ./out/ are replaced, not overwritten in place
        Files.write(out.resolve("animation.gif"), new byte[200_000]);
        Files.write(out.resolve("animation.mp4"), new byte[200_000]);
        FleetDemo.Result result = new FleetDemo(
                        mode.gatewayUrl(),
                        mode.apiKey(),
                        mode.log(LocalMode.GATEWAY),
                        mode.log(LocalMode.WORKER),
                        System.out)
                .run(out);
        assertEquals(FleetDemo.FRAMES, result.gifFrames());
        assertEquals(FleetDemo.FRAMES, FleetDemo.gifFrames(result.gif()));
        assertTrue(result.files().stream().anyMatch(f -> f.toString().endsWith(".mp4")), "files " + result.files());
    }

    /**
     * A job with a {@code Callback-Url}: the receiver gets QUEUED, RUNNING and SUCCEEDED (once each
     * after deduplication on {@code Webhook-Id}), every delivery signed as docs/fleet-contract.md
     * says (recomputed here: HMAC-SHA256 over {@code <id>.<timestamp>.<body>}), and its first
     * {@value #FAILURES} answers of 500 retried with the same id and body after growing delays.
     */
    @Test
    void callbackReceivesSignedEventsRetriedThroughFailuresUpToSucceeded() throws Exception {
        HttpClient http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        String callback = hooks() + "job-" + UUID.randomUUID();
        HttpResponse<String> accepted = http.send(
                HttpRequest.newBuilder(URI.create(mode.gatewayUrl() + "/v1/animations"))
                        .header("Authorization", "Bearer " + mode.apiKey())
                        .header("Content-Type", "application/json")
                        .header("Callback-Url", callback)
                        .POST(HttpRequest.BodyPublishers.ofString(
                                DeliveryCheck.tinyJob(7).toString()))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(202, accepted.statusCode(), accepted.body());
        String jobId = JSON.readTree(accepted.body()).path("job_id").asText();

        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (accepted(jobId).stream().noneMatch(d -> "SUCCEEDED".equals(type(d)))) {
            assertTrue(
                    System.nanoTime() < deadline,
                    "no SUCCEEDED webhook for " + jobId + " within 3 min; deliveries " + describe(DELIVERIES)
                            + " (gateway log " + mode.log(LocalMode.GATEWAY) + ")");
            Thread.sleep(100);
        }

        List<Delivery> all = List.copyOf(DELIVERIES);
        for (Delivery d : all) {
            JsonNode event = JSON.readTree(d.body());
            assertEquals(jobId, event.path("job_id").asText(), "only this job names the receiver: " + event);
            assertNotNull(d.id(), "Webhook-Id");
            assertNotNull(d.signature(), "Webhook-Signature");
            long ts = Long.parseLong(d.timestamp());
            assertTrue(Math.abs(Instant.now().getEpochSecond() - ts) < 300, "fresh timestamp " + ts);
            assertEquals(sign(secret, d.id(), ts, d.body()), d.signature(), "signature of " + d.id());
            assertNotEquals(sign("another-secret", d.id(), ts, d.body()), d.signature(), "keyed by the secret");
            assertNotEquals(sign(secret, d.id(), ts + 1, d.body()), d.signature(), "covers the timestamp");
        }

        // the receiver's view after deduplicating on Webhook-Id: each event once, in order
        Map<String, Delivery> byId = new LinkedHashMap<>();
        for (Delivery d : accepted(jobId)) {
            byId.putIfAbsent(d.id(), d);
        }
        List<String> types = byId.values().stream().map(FleetDemoTest::type).toList();
        assertEquals(List.of("QUEUED", "RUNNING", "SUCCEEDED"), types, describe(all));

        // retry: the first event was refused twice, then the same id and body again, after >= backoff
        assertTrue(all.size() >= FAILURES + 3, describe(all));
        Delivery first = all.get(0);
        for (int i = 0; i <= FAILURES; i++) {
            Delivery d = all.get(i);
            assertEquals(i < FAILURES ? 500 : 204, d.status(), describe(all));
            assertEquals(first.id(), d.id(), "a retry keeps its Webhook-Id: " + describe(all));
            assertEquals(
                    new String(first.body(), StandardCharsets.UTF_8), new String(d.body(), StandardCharsets.UTF_8));
        }
        List<Long> gapsMs = new ArrayList<>();
        for (int i = 1; i <= FAILURES; i++) {
            gapsMs.add((all.get(i).nanos() - all.get(i - 1).nanos()) / 1_000_000);
        }
        System.out.println("webhook retry gaps (ms) " + gapsMs + " for backoff " + BACKOFF_MS + " doubling");
        for (int i = 0; i < gapsMs.size(); i++) {
            long expected = BACKOFF_MS << i;
            assertTrue(gapsMs.get(i) >= expected, "retry " + (i + 1) + " after " + gapsMs.get(i) + " ms < " + expected);
        }
    }

    /** {@code v1=<hex HMAC-SHA256(secret, "<id>.<timestamp>." + body)>}, as docs/fleet-contract.md defines it. */
    static String sign(String key, String id, long timestamp, byte[] body) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        mac.update((id + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
        return "v1=" + HexFormat.of().formatHex(mac.doFinal(body));
    }

    /** The deliveries the receiver answered 2xx for {@code jobId}, in arrival order. */
    static List<Delivery> accepted(String jobId) {
        return DELIVERIES.stream()
                .filter(d -> d.status() / 100 == 2)
                .filter(d -> new String(d.body(), StandardCharsets.UTF_8).contains(jobId))
                .toList();
    }

    static String type(Delivery d) {
        try {
            return JSON.readTree(d.body()).path("type").asText();
        } catch (java.io.IOException e) {
            throw new AssertionError("webhook body is not JSON: " + new String(d.body(), StandardCharsets.UTF_8), e);
        }
    }

    static String describe(List<Delivery> deliveries) {
        return deliveries.stream()
                .map(d -> d.id() + " " + type(d) + " -> " + d.status())
                .toList()
                .toString();
    }
}
