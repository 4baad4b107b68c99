package io.animatediff.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.PutResult;
import io.animatediff.common.store.Sha256;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * The gateway's HTTP and SSE path of {@link GatewayHttpTest} on the real Kafka (apache/kafka, KRaft)
 * and MinIO images: a submission reaches the generate topic, a worker's events (a plain producer
 * here) stream over SSE and show in GET, and the result downloads from MinIO by its presigned URL.
 * Needs a Docker engine: skipped where none runs (the in-process variant covers the path there).
 */
@QuarkusTest
@Testcontainers(disabledWithoutDocker = true)
@QuarkusTestResource(value = ContainersInfrastructure.class, restrictToAnnotatedClass = true)
class GatewayContainersHttpTest {
    static final String KEY = GatewayHttpTest.KEY;

    @TestHTTPResource("/")
    URL base;

    @Test
    void submitStreamsEventsOverSseAndTheResultDownloadsFromMinio() throws Exception {
        try (ObjectStore store = ContainersInfrastructure.newStore();
                KafkaProducer<String, byte[]> producer =
                        KafkaClients.producer(ContainersInfrastructure.bootstrapServers)) {
            registerTinyModels(store);
            // 1. submit: 202, the job on the generate topic with the caller's trace id
            String trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            Response accepted = given().header("Authorization", KEY)
                    .header("traceparent", trace)
                    .contentType(ContentType.JSON)
                    .body(GatewayHttpTest.BODY)
                    .post("/v1/animations");
            accepted.then().statusCode(202).body("status", equalTo("QUEUED"));
            String id = accepted.path("job_id");
            ConsumerRecord<String, byte[]> queued = awaitRecord(Topics.GENERATE, id);
            assertEquals(id, Json.read(queued.value(), GenerationJob.class).jobId());
            String carried =
                    new String(queued.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8);
            assertTrue(carried.startsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-"), carried);

            // 2. follow the SSE stream from the start
            HttpClient http = HttpClient.newHttpClient();
            List<String> names = new CopyOnWriteArrayList<>();
            List<String> data = new CopyOnWriteArrayList<>();
            CompletableFuture<HttpResponse<Stream<String>>> sse = http.sendAsync(
                    HttpRequest.newBuilder(base.toURI().resolve("v1/jobs/" + id + "/events"))
                            .header("Authorization", KEY)
                            .header("Accept", "text/event-stream")
                            .build(),
                    HttpResponse.BodyHandlers.ofLines());
            CompletableFuture<Void> reader = sse.thenAcceptAsync(resp -> {
                assertEquals(200, resp.statusCode());
                resp.body().forEach(line -> {
                    if (line.startsWith("event:")) {
                        names.add(line.substring(6).trim());
                    } else if (line.startsWith("data:")) {
                        data.add(line.substring(5).trim());
                    }
                });
            });
            GatewayHttpTest.await(() -> names.contains("queued"), "the SSE stream's first event (queued)");

            // 3. a worker's events, with a result object in MinIO
            byte[] gif = "GIF89a fake animation".getBytes(StandardCharsets.UTF_8);
            PutResult put = store.put("results/" + id + "/animation.gif", gif);
            Instant t = Instant.now();
            for (JobEvent e : List.of(
                    JobEvent.running(id, t, 1, "w1", 2),
                    JobEvent.progress(id, t.plusMillis(1), 1, "w1", 1, 2),
                    JobEvent.progress(id, t.plusMillis(2), 1, "w1", 2, 2),
                    JobEvent.succeeded(
                            id,
                            t.plusMillis(3),
                            1,
                            "w1",
                            List.of(new ResultObject("gif", put.key(), put.size(), put.sha256()))))) {
                producer.send(new ProducerRecord<>(Topics.JOB_EVENTS, id, Json.writeBytes(e)))
                        .get(10, TimeUnit.SECONDS);
            }

            // 4. the stream ends after the terminal event, one event per change
            reader.get(30, TimeUnit.SECONDS);
            assertEquals(List.of("queued", "running", "progress", "progress", "succeeded"), names);
            assertTrue(data.get(4).contains("\"status\":\"SUCCEEDED\""), data.get(4));

            // 5. GET shows the result; its presigned URL downloads the object from MinIO
            Response r = given().header("Authorization", KEY).get("/v1/jobs/" + id);
            r.then()
                    .statusCode(200)
                    .body("status", equalTo("SUCCEEDED"))
                    .body("results[0].sha256", equalTo(Sha256.hex(gif)));
            String url = r.path("results[0].url");
            HttpResponse<byte[]> download =
                    http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, download.statusCode());
            assertArrayEquals(gif, download.body());
        }
    }

    static void registerTinyModels(ObjectStore store) throws Exception {
        ModelRegistry r = new ModelRegistry(store);
        if (r.find(ModelKind.BASE, "tiny-base").isPresent()) {
            return;
        }
        Path dir = Files.createTempDirectory("gateway-containers");
        Path weights = Files.write(dir.resolve("w.safetensors"), new byte[] {1, 2, 3, 4});
        r.register(
                ModelKind.BASE,
                "tiny-base",
                ModelFormat.LDM_SAFETENSORS,
                List.of(LocalModelFile.of("model.safetensors", weights)),
                Map.of());
        r.register(
                ModelKind.MOTION,
                "tiny-motion",
                ModelFormat.MOTION_SAFETENSORS,
                List.of(LocalModelFile.of("mm.safetensors", weights)),
                Map.of("max_frames", 16));
    }

    /** The first record with {@code key} on the topic of the container broker, within 30 s. */
    static ConsumerRecord<String, byte[]> awaitRecord(String topic, String key) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, ContainersInfrastructure.bootstrapServers);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo i : c.partitionsFor(topic)) {
                parts.add(new TopicPartition(topic, i.partition()));
            }
            c.assign(parts);
            c.seekToBeginning(parts);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    if (key.equals(r.key())) {
                        return r;
                    }
                }
            }
        }
        throw new AssertionError("no record with key " + key + " on " + topic + " within 30 s");
    }
}
