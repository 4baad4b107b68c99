package io.animatediff.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.worker.EventPublisher;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * Faults on the real processes of local mode (the broker, S3Proxy, the gateway and two workers as
 * separate JVMs), one fleet for every scenario to bound the time:
 *
 * <ol>
 *   <li>{@link DeliveryCheck} with a worker killed with SIGKILL mid-run (replaced), a broker
 *       restart on the same port and data, and S3Proxy down for 10 s: every job SUCCEEDED once,
 *       none lost, none duplicated;
 *   <li>a job longer than the workers' (low) {@code max.poll.interval.ms} runs once: one RUNNING
 *       event, one worker;
 *   <li>poison: an unreadable message and a job whose model cannot load go to the DLQ with their
 *       reason after a bounded number of attempts, and their jobs end FAILED with it;
 *   <li>a second gateway replica and a restarted gateway show every job in the same state;
 *   <li>neither the API key nor the S3 secret key appears in any component's log.
 * </ol>
 */
class FaultToleranceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Low on purpose: the long job below takes several times this. */
    private static final Duration MAX_POLL_INTERVAL = Duration.ofSeconds(4);

    /** Kept after the run (under target/), so the components' logs explain a failure. */
    private final Path state =
            Path.of("target", "fault-tolerance-" + System.currentTimeMillis()).toAbsolutePath();

    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void noJobLostOrDuplicatedUnderFaults() throws Exception {
        LocalSettings base = TestLayouts.settings(state, true);
        LocalLayout layout = base.layout();
        for (Path needed : List.of(layout.gatewayJar(), layout.workerClasses(), layout.workerLib())) {
            assumeTrue(
                    Files.exists(needed), "skipped: " + needed + " is missing (package the gateway and worker first)");
        }
        LocalSettings settings = new LocalSettings(
                layout, base.externalKafka(), base.externalStore(), true, base.startupTimeout(), 0, null, 1);
        Map<String, String> workerEnv = Map.of(
                "ANIMATEDIFF_WORKER_MAX_POLL_INTERVAL_MS", Long.toString(MAX_POLL_INTERVAL.toMillis()),
                "ANIMATEDIFF_WORKER_MAX_ATTEMPTS", "2",
                "ANIMATEDIFF_WORKER_RETRY_BACKOFF_MS", "200");
        try (LocalMode mode = LocalMode.start(settings, System.out, workerEnv)) {
            mode.addWorker("local-worker-2");
            FaultInjector faults = new FaultInjector(mode, System.out);

            // 1. delivery under a worker kill, a broker restart and a storage outage
            DeliveryCheck check = new DeliveryCheck(
                    mode.gatewayUrl(), mode.apiKey(), mode.kafkaBootstrap(), mode.store(), System.out);
            DeliveryCheck.Counts counts = check.run(
                    8,
                    4,
                    List.of(
                            new DeliveryCheck.ScheduledFault("kill -9 worker", 0.1, faults::killWorker),
                            new DeliveryCheck.ScheduledFault("broker restart", 0.3, faults::restartBroker),
                            new DeliveryCheck.ScheduledFault(
                                    "storage outage", 0.5, () -> faults.storageOutage(Duration.ofSeconds(10)))),
                    Duration.ofMinutes(6));
            System.out.println(counts.line());
            assertTrue(counts.perfect(), counts.line());

            // 2. a job longer than max.poll.interval.ms runs once
            ObjectNode longJob = DeliveryCheck.tinyJob(1000);
            longJob.put("num_frames", 16);
            longJob.put("num_inference_steps", 150); // the validator's maximum
            longJob.put("width", 96); // 2.25x the work of 64x64 per step: ~20 s here, > 2 x 4 s anywhere
            longJob.put("height", 96);
            String longId = submit(mode, longJob);
            JsonNode longView = awaitTerminal(mode.gatewayUrl(), mode.apiKey(), longId);
            assertEquals("SUCCEEDED", longView.path("status").asText(), longView.toString());
            List<JobEvent> events = DeliveryCheck.readEvents(mode.kafkaBootstrap(), Set.of(longId))
                    .get(longId);
            List<JobEvent> running = events.stream()
                    .filter(e -> e.type() == JobEventType.RUNNING)
                    .toList();
            JobEvent done = events.stream()
                    .filter(e -> e.type() == JobEventType.SUCCEEDED)
                    .findFirst()
                    .orElseThrow();
            assertEquals(1, running.size(), "RUNNING events of the long job: " + running);
            Duration took = Duration.between(running.get(0).timestamp(), done.timestamp());
            assertTrue(
                    took.compareTo(MAX_POLL_INTERVAL.multipliedBy(2)) > 0,
                    "the long job took " + took + ", not longer than 2 x max.poll.interval.ms: make it longer");
            assertTrue(events.stream()
                    .filter(e -> e.workerId() != null)
                    .allMatch(e -> e.workerId().equals(running.get(0).workerId())));
            assertEquals(1, events.stream().map(JobEvent::attempt).distinct().count(), "attempts: " + events);

            // 3. poison: an unreadable message, and a job whose model fails on every attempt
            String poisonId = "poison-" + UUID.randomUUID();
            produce(mode.kafkaBootstrap(), Topics.GENERATE, poisonId, "{not a job".getBytes(StandardCharsets.UTF_8));
            JsonNode poison = awaitTerminal(mode.gatewayUrl(), mode.apiKey(), poisonId);
            assertEquals("FAILED", poison.path("status").asText(), poison.toString());
            assertTrue(
                    poison.path("failure").path("reason").asText().contains("not a readable GenerationJob"),
                    poison.toString());
            registerBrokenModel(mode, state);
            ObjectNode broken = DeliveryCheck.tinyJob(2000);
            broken.put("base_model", "broken");
            String brokenId = submit(mode, broken);
            JsonNode brokenView = awaitTerminal(mode.gatewayUrl(), mode.apiKey(), brokenId);
            assertEquals("FAILED", brokenView.path("status").asText(), brokenView.toString());
            String reason = brokenView.path("failure").path("reason").asText();
            assertTrue(reason.contains("broken"), reason);
            Map<String, ConsumerRecord<String, byte[]>> dlq = dlq(mode.kafkaBootstrap(), Set.of(poisonId, brokenId));
            assertEquals(Set.of(poisonId, brokenId), dlq.keySet(), "dead letters");
            for (ConsumerRecord<String, byte[]> r : dlq.values()) {
                String failure = new String(
                        r.headers().lastHeader(EventPublisher.FAILURE_HEADER).value(), StandardCharsets.UTF_8);
                int attempt = Integer.parseInt(new String(
                        r.headers().lastHeader(EventPublisher.ATTEMPT_HEADER).value(), StandardCharsets.UTF_8));
                assertTrue(attempt >= 1 && attempt <= 2, "attempt " + attempt + " of at most 2");
                assertTrue(!failure.isBlank(), "failure header of " + r.key());
            }

            // 4. a second replica and a restarted gateway see the same states
            List<String> ids = new ArrayList<>(List.of(longId, poisonId, brokenId));
            String replica = mode.addGateway("gateway-2", Ports.free());
            ChildProcess first = mode.process(LocalMode.GATEWAY).orElseThrow();
            int port = URI.create(mode.gatewayUrl()).getPort();
            mode.forget(first);
            first.stop(Duration.ofSeconds(20));
            String restarted = mode.addGateway("gateway-restarted", port);
            for (String id : ids) {
                JsonNode a = awaitTerminal(replica, mode.apiKey(), id);
                JsonNode b = awaitTerminal(restarted, mode.apiKey(), id);
                assertEquals(a.path("status").asText(), b.path("status").asText(), id);
                assertEquals(a.path("attempt"), b.path("attempt"), id);
                assertEquals(a.path("failure"), b.path("failure"), id);
            }
            assertEquals(
                    "SUCCEEDED",
                    awaitTerminal(restarted, mode.apiKey(), longId)
                            .path("status")
                            .asText());
        } catch (ComponentException e) {
            throw new AssertionError(e.report(), e);
        }
    }

    private void registerBrokenModel(LocalMode mode, Path dir) throws Exception {
        Files.createDirectories(dir);
        Path weights = Files.write(dir.resolve("broken.safetensors"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        try (ObjectStore store = new ObjectStore(mode.store())) {
            new ModelRegistry(store)
                    .register(
                            ModelKind.BASE,
                            "broken",
                            ModelFormat.LDM_SAFETENSORS,
                            List.of(LocalModelFile.of("model.safetensors", weights)),
                            Map.of());
        }
    }

    private String submit(LocalMode mode, ObjectNode body) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (true) {
            HttpResponse<String> res = http.send(
                    HttpRequest.newBuilder(URI.create(mode.gatewayUrl() + "/v1/animations"))
                            .header("Authorization", "Bearer " + mode.apiKey())
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (res.statusCode() == 202) {
                return JSON.readTree(res.body()).path("job_id").asText();
            }
            // the gateway's model catalog may not know a just-registered model yet
            if (System.nanoTime() > deadline) {
                throw new AssertionError("submission answered " + res.statusCode() + ": " + res.body());
            }
            Thread.sleep(1000);
        }
    }

    private JsonNode awaitTerminal(String gateway, String key, String id) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> res = http.send(
                    HttpRequest.newBuilder(URI.create(gateway + "/v1/jobs/" + id))
                            .header("Authorization", "Bearer " + key)
                            .GET()
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (res.statusCode() == 200) {
                last = JSON.readTree(res.body());
                String s = last.path("status").asText();
                if (s.equals("SUCCEEDED") || s.equals("FAILED") || s.equals("CANCELLED")) {
                    return last;
                }
            }
            Thread.sleep(300);
        }
        throw new AssertionError("job " + id + " did not end within 3 min on " + gateway + ": " + last);
    }

    private static void produce(String bootstrap, String topic, String key, byte[] value) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(topic, key, value)).get();
        }
    }

    private static Map<String, ConsumerRecord<String, byte[]>> dlq(String bootstrap, Set<String> keys) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        Map<String, ConsumerRecord<String, byte[]>> out = new java.util.HashMap<>();
        try (KafkaConsumer<String, byte[]> c =
                new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(Topics.GENERATE_DLQ, Duration.ofSeconds(30)).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition()))
                    .toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(500))) {
                    if (keys.contains(r.key())) {
                        out.put(r.key(), r);
                    }
                }
            }
        }
        return out;
    }
}
