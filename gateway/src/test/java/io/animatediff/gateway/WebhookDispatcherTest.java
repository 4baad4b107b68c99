package io.animatediff.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.trace.JobContext;
import io.animatediff.common.trace.TraceParent;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Webhooks against a real broker and a real HTTP receiver on loopback: a signed POST per job event
 * whose record names an allowed callback, retried with backoff through receiver failures (same
 * {@code Webhook-Id}), progress and non-allowed callbacks never sent, the trace id carried, and
 * committed events not delivered again by the next dispatcher of the group.
 */
class WebhookDispatcherTest {
    static KafkaClusterTestKit kit;
    static HttpServer receiver;
    static final List<Delivery> DELIVERIES = new CopyOnWriteArrayList<>();
    static final AtomicInteger FAILURES_LEFT = new AtomicInteger();
    static final String SECRET = "whsec-test-123";
    static final String TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    record Delivery(String id, String timestamp, String signature, String traceparent, byte[] body, int status) {}

    @BeforeAll
    static void start() throws Exception {
        kit = InProcessKafka.startBroker();
        KafkaClients.createTopics(kit.bootstrapServers(), 2, (short) 1, Duration.ofSeconds(30));
        receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        receiver.createContext("/hooks/", ex -> {
            byte[] body = ex.getRequestBody().readAllBytes();
            int status = FAILURES_LEFT.getAndDecrement() > 0 ? 503 : 204;
            DELIVERIES.add(new Delivery(
                    ex.getRequestHeaders().getFirst(WebhookSigner.ID_HEADER),
                    ex.getRequestHeaders().getFirst(WebhookSigner.TIMESTAMP_HEADER),
                    ex.getRequestHeaders().getFirst(WebhookSigner.SIGNATURE_HEADER),
                    ex.getRequestHeaders().getFirst(TraceParent.HEADER),
                    body,
                    status));
            ex.sendResponseHeaders(status, -1);
            ex.close();
        });
        receiver.start();
    }

    @AfterAll
    static void stop() throws Exception {
        receiver.stop(0);
        kit.close();
    }

    static String hook(String path) {
        return "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hooks/" + path;
    }

    static void send(KafkaProducer<String, byte[]> producer, JobEvent e, Map<String, String> headers) throws Exception {
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(Topics.JOB_EVENTS, e.jobId(), Json.writeBytes(e));
        headers.forEach((k, v) -> r.headers().add(k, v.getBytes(StandardCharsets.UTF_8)));
        producer.send(r).get();
    }

    @Test
    void signedRetriedAtLeastOnceAndOnlyToAllowedCallbacks() throws Exception {
        WebhookSettings settings = new WebhookSettings(List.of(hook("")), SECRET, 5, Duration.ofMillis(50));
        WebhookSigner signer = new WebhookSigner(SECRET);
        String job = JobIds.newId();
        Instant now = Instant.now();
        try (KafkaProducer<String, byte[]> producer = KafkaClients.producer(kit.bootstrapServers())) {
            try (WebhookDispatcher d = new WebhookDispatcher(kit.bootstrapServers(), settings).start()) {
                assertTrue(d.awaitAssigned(Duration.ofSeconds(30)), "dispatcher joined its group");
                FAILURES_LEFT.set(2);
                Map<String, String> ctx = Map.of(TraceParent.HEADER, TRACE, JobContext.CALLBACK, hook("job"));
                send(producer, JobEvent.queued(job, now, 1), ctx);
                send(producer, JobEvent.progress(job, now, 1, "w1", 1, 4), ctx);
                send(producer, JobEvent.running(job, now, 1, "w1", 4), Map.of(TraceParent.HEADER, TRACE));
                send(
                        producer,
                        JobEvent.queued(JobIds.newId(), now, 1),
                        Map.of(JobContext.CALLBACK, "http://127.0.0.1:1/elsewhere"));
                send(producer, JobEvent.running(job, now, 1, "w1", 4), ctx);
                await(() -> d.delivered() == 2 && d.failed() == 1, Duration.ofSeconds(30), d);
                assertEquals(2, d.retries(), "two 503s retried");
            }
            // 3 attempts of QUEUED (503, 503, 204), then RUNNING once
            assertEquals(4, DELIVERIES.size(), "deliveries " + DELIVERIES);
            Delivery first = DELIVERIES.get(0);
            for (int i = 0; i < 3; i++) {
                assertEquals(first.id(), DELIVERIES.get(i).id(), "a retry keeps its Webhook-Id");
            }
            assertEquals(
                    List.of(503, 503, 204, 204),
                    DELIVERIES.stream().map(Delivery::status).toList());
            for (Delivery x : DELIVERIES) {
                assertTrue(signer.verify(x.id(), Long.parseLong(x.timestamp()), x.body(), x.signature()), x.id());
                assertFalse(signer.verify(x.id(), Long.parseLong(x.timestamp()) + 1, x.body(), x.signature()));
                assertTrue(x.traceparent().startsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-"), x.traceparent());
                JobEvent e = Json.read(x.body(), JobEvent.class);
                assertEquals(job, e.jobId());
            }
            assertEquals(
                    "QUEUED",
                    Json.read(DELIVERIES.get(0).body(), JobEvent.class).type().name());
            assertEquals(
                    "RUNNING",
                    Json.read(DELIVERIES.get(3).body(), JobEvent.class).type().name());
            assertTrue(
                    Math.abs(Long.parseLong(first.timestamp()) - Instant.now().getEpochSecond()) < 60);

            // the next dispatcher of the group continues after the committed offsets
            try (WebhookDispatcher d2 = new WebhookDispatcher(kit.bootstrapServers(), settings).start()) {
                assertTrue(d2.awaitAssigned(Duration.ofSeconds(30)));
                send(producer, JobEvent.queued(job, now, 2), Map.of(JobContext.CALLBACK, hook("job")));
                await(() -> d2.delivered() == 1, Duration.ofSeconds(30), d2);
            }
            assertEquals(5, DELIVERIES.size(), "nothing delivered twice after a commit: " + DELIVERIES);
        }
    }

    @Test
    void allowListNeedsHttpPrefixAndASecret() {
        WebhookSettings s = new WebhookSettings(List.of("https://hooks.example.com/"), "k", 3, Duration.ofMillis(1));
        assertTrue(s.allows("https://hooks.example.com/a/b"));
        assertFalse(s.allows("https://hooks.example.com.evil.net/a"));
        assertFalse(s.allows("https://hooks.example.com/../admin"));
        assertFalse(s.allows("https://user@hooks.example.com/a"));
        assertFalse(s.allows("ftp://hooks.example.com/a"));
        assertFalse(WebhookSettings.from(Map.of()).enabled());
        String prefix = "https://hooks.example.com/";
        String longest = prefix + "x".repeat(WebhookSettings.MAX_URL_LENGTH - prefix.length());
        assertTrue(s.allows(longest), "exactly " + WebhookSettings.MAX_URL_LENGTH + " characters");
        assertTrue(s.refusal(longest + "x").orElseThrow().contains("use a shorter URL"));
        assertTrue(WebhookSettings.from(Map.of())
                .refusal(prefix + "a")
                .orElseThrow()
                .contains("webhooks are disabled"));
        WebhookSettings parsed = WebhookSettings.parse(" https://a.example/ , ,http://b.example/x/ ", "k", 2, 10);
        assertEquals(List.of("https://a.example/", "http://b.example/x/"), parsed.allowedPrefixes());
        assertEquals(Duration.ofMillis(10), parsed.backoff());
        org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class,
                () -> WebhookSettings.from(Map.of(WebhookSettings.ENV_ALLOWED_URLS, "https://x/")));
    }

    interface Check {
        boolean ok();
    }

    static void await(Check c, Duration timeout, WebhookDispatcher d) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!c.ok()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out: delivered " + d.delivered() + " retries " + d.retries()
                        + " failed " + d.failed() + " deliveries " + DELIVERIES);
            }
            Thread.sleep(50);
        }
    }
}
