package io.animatediff.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.CancelRequest;
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
import io.animatediff.common.trace.JobContext;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The gateway over real HTTP against a real in-process Kafka broker and S3Proxy: submissions reach
 * the generate topic, job events produced by a "worker" (a plain producer here) show up in GET and
 * SSE, results download through their presigned URLs, and every refusal is a problem document.
 */
@QuarkusTest
@QuarkusTestResource(value = InProcessKafka.class, restrictToAnnotatedClass = true)
@QuarkusTestResource(value = InProcessS3.class, restrictToAnnotatedClass = true)
class GatewayHttpTest {
    static final String KEY = "Bearer test-key";
    static final String OTHER_KEY = "Bearer other-key";
    static final String LIMITED_KEY = "Bearer limited-key";
    static final String QUOTA_KEY = "Bearer quota-key";
    /** The model-limit tests' key: the rate-limit test drains LIMITED_KEY's bucket (429s at random). */
    static final String MODELS_KEY = "Bearer models-key";

    static final String BODY = "{\"prompt\": \"a cat walking\", \"base_model\": \"tiny-base\","
            + " \"motion_module\": \"tiny-motion\", \"num_frames\": 8, \"width\": 64, \"height\": 64,"
            + " \"num_inference_steps\": 2}";

    static KafkaProducer<String, byte[]> producer;
    static ObjectStore store;

    @Inject
    JobStateView appView;

    @Inject
    ModelRegistry registry;

    @TestHTTPResource("/")
    URL base;

    @BeforeAll
    static void fixtures() throws Exception {
        producer = KafkaClients.producer(InProcessKafka.bootstrapServers);
        store = InProcessS3.server.newStore(InProcessS3.BUCKET);
        ModelRegistry r = new ModelRegistry(store);
        Path dir = Files.createTempDirectory("gateway-it");
        Path weights = Files.write(dir.resolve("w.safetensors"), new byte[] {1, 2, 3, 4});
        if (r.find(ModelKind.BASE, "tiny-base").isEmpty()) {
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
    }

    @AfterAll
    static void close() {
        producer.close();
        store.close();
    }

    // ---------------------------------------------------------------- submit, events, results

    @Test
    void submitQueuesTheJobOnKafkaAndShowsQueued() {
        String seeded = BODY.replace("}", ", \"seed\": 18446744073709551615}");
        String id = submit(seeded, KEY, null);
        GenerationJob job = Json.read(awaitRecord(Topics.GENERATE, id).value(), GenerationJob.class);
        assertEquals(id, job.jobId());
        assertEquals("a cat walking", job.request().prompt());
        assertEquals(8, job.request().numFrames());
        assertEquals("18446744073709551615", job.request().seed().toString());
        JobEvent queued = Json.read(awaitRecord(Topics.JOB_EVENTS, id).value(), JobEvent.class);
        assertEquals("QUEUED", queued.type().name());
        given().header("Authorization", KEY)
                .get("/v1/jobs/" + id)
                .then()
                .statusCode(200)
                .body("job_id", equalTo(id))
                .body("status", equalTo("QUEUED"))
                .body("attempt", equalTo(1))
                .body("created_at", notNullValue());

        // without a seed the gateway fixes one (unsigned 64-bit), so the job is reproducible
        String unseeded = submit(BODY, KEY, null);
        GenerationJob j2 = Json.read(awaitRecord(Topics.GENERATE, unseeded).value(), GenerationJob.class);
        assertNotNull(j2.request().seed());
    }

    @Test
    void workerEventsShowInGetAndSseAndTheResultDownloads() throws Exception {
        String id = submit(BODY, KEY, null);
        // 1. follow the SSE stream from the start
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
        await(() -> names.contains("queued"), "the SSE stream's first event (queued)");

        // 2. a worker's events, with a result object in S3
        byte[] gif = "GIF89a fake animation".getBytes(StandardCharsets.UTF_8);
        PutResult put = store.put("results/" + id + "/animation.gif", gif);
        Instant t = Instant.now();
        publish(JobEvent.running(id, t, 1, "w1", 2));
        publish(JobEvent.progress(id, t.plusMillis(1), 1, "w1", 1, 2));
        publish(JobEvent.progress(id, t.plusMillis(2), 1, "w1", 2, 2));
        // the upload waits for storage: GET shows it while it lasts
        String waiting = "waiting for storage: writing results/" + id + "/animation.gif failed (attempt 1, waited 0 s"
                + " of 120 s): Connection refused; next retry in 500 ms";
        publish(JobEvent.waiting(id, t.plusMillis(3), 1, "w1", JobEvent.PHASE_WAITING_FOR_STORAGE, waiting));
        await(
                () -> "waiting_for_storage"
                        .equals(given().header("Authorization", KEY)
                                .get("/v1/jobs/" + id)
                                .path("phase")),
                "the waiting event in GET");
        given().header("Authorization", KEY)
                .get("/v1/jobs/" + id)
                .then()
                .body("status", equalTo("RUNNING"))
                .body("message", equalTo(waiting))
                .body("progress.step", equalTo(2));
        publish(JobEvent.succeeded(
                id, t.plusMillis(4), 1, "w1", List.of(new ResultObject("gif", put.key(), put.size(), put.sha256()))));

        // 3. the stream ends after the terminal event, one event per change
        reader.get(20, TimeUnit.SECONDS);
        assertEquals(List.of("queued", "running", "progress", "progress", "running", "succeeded"), names);
        assertTrue(data.get(3).contains("\"step\":2"), data.get(3));
        assertTrue(data.get(4).contains("\"phase\":\"waiting_for_storage\""), data.get(4));
        assertTrue(data.get(4).contains("next retry in 500 ms"), data.get(4));
        assertTrue(data.get(5).contains("\"status\":\"SUCCEEDED\""), data.get(5));
        assertFalse(data.get(5).contains("\"phase\""), data.get(5));

        // 4. GET shows the result with a presigned URL that downloads the object
        Response r = given().header("Authorization", KEY).get("/v1/jobs/" + id);
        r.then()
                .statusCode(200)
                .body("status", equalTo("SUCCEEDED"))
                .body("progress.step", equalTo(2))
                .body("progress.total", equalTo(2))
                .body("results[0].format", equalTo("gif"))
                .body("results[0].sha256", equalTo(Sha256.hex(gif)));
        String url = r.path("results[0].url");
        HttpResponse<byte[]> download =
                http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, download.statusCode());
        assertArrayEquals(gif, download.body());

        // 5. the listing filters by status
        given().header("Authorization", KEY)
                .queryParam("status", "succeeded")
                .queryParam("size", 100)
                .get("/v1/jobs")
                .then()
                .statusCode(200)
                .body("jobs.job_id", hasItem(id))
                .body("size", equalTo(100));
        given().header("Authorization", KEY)
                .queryParam("status", "nope")
                .get("/v1/jobs")
                .then()
                .statusCode(400)
                .body("violations[0].field", equalTo("status"));
    }

    @Test
    void cancelPublishesACancelRequestAndIsRefusedAfterTheEnd() {
        String id = submit(BODY, KEY, null);
        given().header("Authorization", KEY)
                .post("/v1/jobs/" + id + "/cancel")
                .then()
                .statusCode(202)
                .body("job_id", equalTo(id));
        CancelRequest c = Json.read(awaitRecord(Topics.CANCEL, id).value(), CancelRequest.class);
        assertEquals(id, c.jobId());
        publish(JobEvent.cancelled(id, Instant.now(), 1, "w1"));
        await(() -> appView.get(id).map(s -> s.status() == JobStatus.CANCELLED).orElse(false), "CANCELLED");
        given().header("Authorization", KEY)
                .post("/v1/jobs/" + id + "/cancel")
                .then()
                .statusCode(409)
                .contentType("application/problem+json");
        given().header("Authorization", KEY)
                .post("/v1/jobs/no-such-job/cancel")
                .then()
                .statusCode(404);
        given().header("Authorization", KEY).get("/v1/jobs/no-such-job").then().statusCode(404);
    }

    // ---------------------------------------------------------------- idempotency

    @Test
    void idempotencyKeyReturnsTheSameJobRefusesAnotherBodyAndJoinsAnInFlightRetry() throws Exception {
        String key = "order-" + UUID.randomUUID();
        // 1. same key and body: same job
        String first = submit(BODY, KEY, key);
        Response again = post(BODY, KEY, key);
        again.then().statusCode(202).header("Idempotent-Replayed", "true");
        assertEquals(first, again.path("job_id"));
        // field order and whitespace do not matter, the parsed request does
        String reordered = "{\"base_model\":\"tiny-base\",\"motion_module\":\"tiny-motion\",\"prompt\":\"a cat"
                + " walking\",\"num_frames\":8,\"width\":64,\"height\":64,\"num_inference_steps\":2}";
        assertEquals(first, submit(reordered, KEY, key));
        // 2. same key, another body: 422
        post(BODY.replace("a cat", "a dog"), KEY, key)
                .then()
                .statusCode(422)
                .contentType("application/problem+json")
                .body("violations[0].field", equalTo("Idempotency-Key"));
        // another API key has its own key space
        assertNotEquals(first, submit(BODY, OTHER_KEY, key));

        // 3. retries racing the first submission: one job, published once
        String raced = "race-" + UUID.randomUUID();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                answers.add(pool.submit(() -> submit(BODY, KEY, raced)));
            }
            Set<String> ids = new HashSet<>();
            for (Future<String> f : answers) {
                ids.add(f.get(30, TimeUnit.SECONDS));
            }
            assertEquals(1, ids.size(), "every racing retry answers the same job: " + ids);
            String id = ids.iterator().next();
            awaitRecord(Topics.GENERATE, id);
            assertEquals(1, records(Topics.GENERATE, id).size(), "the job is published once");
        } finally {
            pool.shutdownNow();
        }

        // 4. a restarted gateway knows the key: a fresh view folded from Kafka resolves it
        JobStateView fresh = new JobStateView();
        try (StateViewConsumer c = new StateViewConsumer(
                        () -> KafkaClients.stateViewConsumer(InProcessKafka.bootstrapServers),
                        Topics.JOB_EVENTS,
                        fresh,
                        Duration.ofMillis(100),
                        Duration.ofMillis(500),
                        Clock.systemUTC())
                .start()) {
            await(c::caughtUp, "a second state view to catch up");
            String scope = IdempotencyKeys.scope(ApiKeys.hash("test-key"), key);
            assertEquals(
                    first, fresh.findByIdempotencyScope(scope).orElseThrow().jobId());
        }
    }

    // ---------------------------------------------------------------- auth, rate limit, validation

    @Test
    void requestsWithoutAValidKeyAre401AndOpsEndpointsStayOpen() {
        given().contentType(ContentType.JSON)
                .body(BODY)
                .post("/v1/animations")
                .then()
                .statusCode(401)
                .contentType("application/problem+json")
                .header("WWW-Authenticate", "Bearer");
        given().header("Authorization", "Bearer wrong").get("/v1/jobs").then().statusCode(401);
        given().header("Authorization", "Basic dGVzdC1rZXk=")
                .get("/v1/models")
                .then()
                .statusCode(401);
        given().get("/q/health/live").then().statusCode(200);
        await(() -> given().get("/q/health/ready").statusCode() == 200, "readiness");
        given().get("/q/openapi").then().statusCode(200);
        given().get("/q/metrics").then().statusCode(200);
    }

    @Test
    void aKeyOverItsRateLimitGets429WithRetryAfter() {
        Response limited = null;
        for (int i = 0; i < 200 && limited == null; i++) {
            Response r = given().header("Authorization", LIMITED_KEY).get("/v1/jobs?size=1");
            if (r.statusCode() == 429) {
                limited = r;
            } else {
                assertEquals(200, r.statusCode());
            }
        }
        assertNotNull(limited, "200 requests at full speed never hit a 40-request burst");
        limited.then().contentType("application/problem+json");
        assertTrue(Long.parseLong(limited.header("Retry-After")) >= 1);
        given().header("Authorization", KEY).get("/v1/jobs?size=1").then().statusCode(200);
    }

    @Test
    void aKeyWithItsQuotaOfActiveJobsGets429ButRetriesOfAcceptedJobsStillWork() {
        // the test profile allows 20 active jobs per key
        String first = submit(BODY, QUOTA_KEY, "quota-first");
        List<String> ids = new ArrayList<>(List.of(first));
        for (int i = 1; i < 20; i++) {
            ids.add(submit(BODY, QUOTA_KEY, null));
        }
        Response full = post(BODY, QUOTA_KEY, null);
        full.then()
                .statusCode(429)
                .contentType("application/problem+json")
                .header("Retry-After", "30")
                .body("type", equalTo("/problems/queue-quota-exceeded"))
                .body("violations[0].field", equalTo("Authorization"));
        String detail = full.path("detail");
        assertTrue(detail.contains("has 20 jobs queued or running, the limit is 20 per key"), detail);
        assertTrue(detail.contains("cancel"), detail);
        post(BODY, QUOTA_KEY, "quota-new").then().statusCode(429);
        // the retry of an accepted job answers with that job; other keys are not affected
        Response retry = post(BODY, QUOTA_KEY, "quota-first");
        retry.then().statusCode(202).header("Idempotent-Replayed", "true");
        assertEquals(first, retry.path("job_id"));
        submit(BODY, OTHER_KEY, null);
        // a job that ends (here: FAILED, published as a worker would) frees a place
        publish(JobEvent.failed(
                ids.get(5),
                Instant.now(),
                1,
                "w1",
                new io.animatediff.common.protocol.Failure(
                        io.animatediff.common.protocol.FailureCode.INTERNAL, "test")));
        await(
                () -> appView.activeJobs(JobOwners.tag(Sha256.hex("quota-key".getBytes(StandardCharsets.UTF_8)))) == 19,
                "the FAILED event to be folded");
        submit(BODY, QUOTA_KEY, null);
        post(BODY, QUOTA_KEY, null).then().statusCode(429);
    }

    /** A model registered over HTTP in a test, and the key that owns it (which alone may delete it). */
    record Uploaded(String name, String key) {}

    @Test
    void modelUploadsBeyondTheFleetModelLimitAre409AndStoreNothing() {
        // the test profile allows 8 models in the fleet and 3 per key: spread the uploads over keys
        int before = given().header("Authorization", KEY)
                .get("/v1/models")
                .then()
                .statusCode(200)
                .extract()
                .path("models.size()");
        assertTrue(before < 8, "the other tests registered " + before + " models, the limit is 8");
        String[] keys = {KEY, OTHER_KEY, MODELS_KEY};
        byte[] bytes = {9, 8, 7, 6};
        List<Uploaded> mine = new ArrayList<>();
        try {
            for (int i = before; i < 8; i++) {
                Uploaded u = new Uploaded("count-lora-" + i, keys[i % keys.length]);
                uploadLora(u.name(), bytes, u.key()).then().statusCode(201);
                mine.add(u);
            }
            // a key with no model at all is refused: the fleet is full
            Response refused = uploadLora("count-lora-extra", bytes, QUOTA_KEY);
            refused.then()
                    .statusCode(409)
                    .contentType("application/problem+json")
                    .body("type", equalTo("/problems/model-limit"))
                    .body("violations[0].field", equalTo("name"));
            String detail = refused.path("detail");
            assertTrue(detail.contains("already has 8 registered models, the limit is 8"), detail);
            assertEquals(List.of(), store.list("models/lora/count-lora-extra/"), "objects left behind");
            // the presigned route is refused too, before any URL is handed out
            given().header("Authorization", QUOTA_KEY)
                    .contentType(ContentType.JSON)
                    .body("{\"files\": [\"a.safetensors\"]}")
                    .post("/v1/models/lora/count-lora-extra/uploads")
                    .then()
                    .statusCode(409);
            // re-sending a registered file is still answered (200), and deleting frees a place
            uploadLora(mine.get(0).name(), bytes, mine.get(0).key()).then().statusCode(200);
            Uploaded freed = mine.remove(0);
            given().header("Authorization", freed.key())
                    .delete("/v1/models/lora/" + freed.name())
                    .then()
                    .statusCode(204);
            uploadLora("count-lora-extra", bytes, QUOTA_KEY).then().statusCode(201);
            mine.add(new Uploaded("count-lora-extra", QUOTA_KEY));
        } finally {
            for (Uploaded u : mine) {
                given().header("Authorization", u.key()).delete("/v1/models/lora/" + u.name());
            }
        }
    }

    @Test
    void aKeyBeyondItsModelLimitIs409AndCannotDeleteAnotherKeysModels() {
        // the test profile allows 3 models per key
        byte[] bytes = {5, 4, 3, 2};
        List<Uploaded> mine = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Uploaded u = new Uploaded("key-lora-" + i, MODELS_KEY);
                uploadLora(u.name(), bytes, u.key())
                        .then()
                        .statusCode(201)
                        .body(
                                "owner",
                                equalTo(JobOwners.tag(Sha256.hex("models-key".getBytes(StandardCharsets.UTF_8)))));
                mine.add(u);
            }
            Response refused = uploadLora("key-lora-3", bytes, MODELS_KEY);
            refused.then()
                    .statusCode(409)
                    .contentType("application/problem+json")
                    .body("type", equalTo("/problems/model-limit-per-key"))
                    .body("violations[0].field", equalTo("name"));
            String detail = refused.path("detail");
            assertTrue(detail.contains("already has 3 registered models, the limit per key is 3"), detail);
            assertTrue(detail.contains("animatediff.models.max-models-per-key"), detail);
            assertTrue(detail.contains("delete one of your models"), detail);
            assertEquals(List.of(), store.list("models/lora/key-lora-3/"), "objects left behind");
            given().header("Authorization", MODELS_KEY)
                    .contentType(ContentType.JSON)
                    .body("{\"files\": [\"a.safetensors\"]}")
                    .post("/v1/models/lora/key-lora-3/uploads")
                    .then()
                    .statusCode(409)
                    .body("type", equalTo("/problems/model-limit-per-key"));
            // the limit is the key's: another key still registers
            uploadLora("key-lora-other", bytes, KEY).then().statusCode(201);
            mine.add(new Uploaded("key-lora-other", KEY));
            // another key may neither delete nor replace a model of this key; it stays registered
            Response forbidden = given().header("Authorization", KEY).delete("/v1/models/lora/key-lora-0");
            forbidden
                    .then()
                    .statusCode(403)
                    .contentType("application/problem+json")
                    .body("type", equalTo("/problems/forbidden"))
                    .body("violations[0].field", equalTo("name"));
            given().header("Authorization", KEY)
                    .get("/v1/models/lora/key-lora-0")
                    .then()
                    .statusCode(200);
            assertFalse(store.list("models/lora/key-lora-0/files/").isEmpty(), "the files were deleted");
            uploadLora("key-lora-0", new byte[] {1, 1, 1, 1}, KEY).then().statusCode(409);
            // its owner deletes it, which frees a place for that key
            given().header("Authorization", MODELS_KEY)
                    .delete("/v1/models/lora/key-lora-0")
                    .then()
                    .statusCode(204);
            mine.remove(0);
            uploadLora("key-lora-3", bytes, MODELS_KEY).then().statusCode(201);
            mine.add(new Uploaded("key-lora-3", MODELS_KEY));
            // a model registered without an owner (operator tools, training) may be deleted by any key
            store.put(ModelRegistry.fileKey(ModelKind.LORA, "unowned-lora", "l.safetensors"), bytes);
            registry.finalizeUpload(
                    ModelKind.LORA,
                    "unowned-lora",
                    ModelFormat.LORA_SAFETENSORS,
                    List.of(new io.animatediff.common.registry.ModelFile("l.safetensors", Sha256.hex(bytes), 4)),
                    Map.of());
            given().header("Authorization", OTHER_KEY)
                    .delete("/v1/models/lora/unowned-lora")
                    .then()
                    .statusCode(204);
        } finally {
            for (Uploaded u : mine) {
                given().header("Authorization", u.key()).delete("/v1/models/lora/" + u.name());
            }
        }
    }

    @Test
    void aModelFileOverTheSizeLimitIs413AndLeavesNothingInTheBucket() throws Exception {
        // the test profile allows files of 400000 bytes
        byte[] big = new byte[400_001];
        new java.util.Random(5).nextBytes(big);
        String prefix = "models/lora/big-lora/";
        // 1. streamed: refused on its Content-Length, before a byte is stored
        Response streamed = uploadLora("big-lora", big, KEY);
        streamed.then()
                .statusCode(413)
                .contentType("application/problem+json")
                .body("type", equalTo("/problems/file-too-large"))
                .body("violations[0].field", equalTo("Content-Length"));
        String detail = streamed.path("detail");
        assertTrue(detail.contains("has 400001 bytes, the limit is 400000 bytes"), detail);
        assertTrue(detail.contains("animatediff.models.max-file-bytes"), detail);
        assertEquals(List.of(), store.list(prefix), "objects left behind");
        given().header("Authorization", KEY)
                .get("/v1/models/lora/big-lora")
                .then()
                .statusCode(404);

        // 2. presigned PUT: the store takes the bytes, finalize refuses them and deletes every upload
        HttpClient http = HttpClient.newHttpClient();
        byte[] small = "{\"alpha\": 1}".getBytes(StandardCharsets.UTF_8);
        // declared truthfully, and declared as 10 bytes (the stored size decides)
        for (long declared : new long[] {big.length, 10}) {
            Response plan = given().header("Authorization", KEY)
                    .contentType(ContentType.JSON)
                    .body("{\"files\": [\"config.json\", \"l.safetensors\"]}")
                    .post("/v1/models/lora/big-lora/uploads");
            plan.then().statusCode(200);
            for (int i = 0; i < 2; i++) {
                HttpResponse<String> put = http.send(
                        HttpRequest.newBuilder(URI.create(plan.path("files[" + i + "].url")))
                                .PUT(HttpRequest.BodyPublishers.ofByteArray(i == 0 ? small : big))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, put.statusCode(), put.body());
            }
            assertEquals(2, store.list(prefix).size(), "both uploads are in the bucket before finalize");
            String files = "[{\"path\": \"config.json\", \"sha256\": \"" + Sha256.hex(small) + "\", \"size\": "
                    + small.length + "}, {\"path\": \"l.safetensors\", \"sha256\": \"" + Sha256.hex(big)
                    + "\", \"size\": " + declared + "}]";
            Response refused = given().header("Authorization", KEY)
                    .contentType(ContentType.JSON)
                    .body("{\"format\": \"lora-safetensors\", \"files\": " + files + "}")
                    .post("/v1/models/lora/big-lora/finalize");
            refused.then()
                    .statusCode(413)
                    .contentType("application/problem+json")
                    .body("type", equalTo("/problems/file-too-large"))
                    .body("violations[0].field", equalTo("files[1].size"));
            String why = refused.path("detail");
            assertTrue(
                    why.contains("has 400001 bytes, the limit is 400000 bytes"), "declared " + declared + ": " + why);
            assertEquals(List.of(), store.list(prefix), "declared " + declared + ": objects left behind");
            given().header("Authorization", KEY)
                    .get("/v1/models/lora/big-lora")
                    .then()
                    .statusCode(404);
        }

        // 3. the limit itself is allowed
        byte[] atLimit = java.util.Arrays.copyOf(big, 400_000);
        uploadLora("big-lora", atLimit, KEY).then().statusCode(201).body("files[0].size", equalTo(400_000));
        given().header("Authorization", KEY)
                .delete("/v1/models/lora/big-lora")
                .then()
                .statusCode(204);
    }

    static Response uploadLora(String name, byte[] bytes, String key) {
        return given().header("Authorization", key)
                .header("X-Sha256", Sha256.hex(bytes))
                .contentType("application/octet-stream")
                .body(bytes)
                .post("/v1/models/lora/" + name + "?path=l.safetensors");
    }

    static Stream<Arguments> badBodies() {
        return Stream.of(
                Arguments.of(BODY.replace("\"width\": 64", "\"width\": 68"), "width"),
                Arguments.of(BODY.replace("\"num_frames\": 8", "\"num_frames\": 0"), "num_frames"),
                Arguments.of(BODY.replace("}", ", \"guidance_scale\": 1e9}"), "guidance_scale"),
                Arguments.of(BODY.replace("}", ", \"scheduler\": \"dpm++\"}"), "scheduler"),
                Arguments.of(BODY.replace("}", ", \"num_frame\": 8}"), "num_frame"),
                Arguments.of(BODY.replace("\"num_frames\": 8", "\"num_frames\": \"eight\""), "num_frames"),
                Arguments.of(BODY.replace("\"width\": 64", "\"width\": 64.5"), "width"),
                Arguments.of(BODY.replace("}", ", \"seed\": -1}"), "seed"),
                Arguments.of(BODY.replace("\"num_frames\": 8", "\"num_frames\": 24"), "num_frames"),
                Arguments.of("{\"prompt\": ", ""));
    }

    @ParameterizedTest
    @MethodSource("badBodies")
    void badBodiesAre400NamingTheField(String body, String field) {
        post(body, KEY, null)
                .then()
                .statusCode(400)
                .contentType("application/problem+json")
                .body("status", equalTo(400))
                .body("violations.field", hasItem(field));
    }

    @Test
    void anUnknownModelIs422WithTheReason() {
        post(BODY.replace("tiny-base", "no-such-base"), KEY, null)
                .then()
                .statusCode(422)
                .contentType("application/problem+json")
                .body("type", equalTo("/problems/unknown-model"))
                .body("violations[0].field", equalTo("base_model"));
    }

    // ---------------------------------------------------------------- Callback-Url

    /** The test profile's allow-list (application.properties). */
    static final String ALLOWED_HOOKS = "http://127.0.0.1:9/hooks/";

    /** A refused callback: what it is, the URL, and the advice its problem must give. */
    record RefusedCallback(String what, String url, String advice) {}

    @Test
    void aCallbackUrlOutsideTheRulesIs400NamingTheHeaderAndEnqueuesNothing() {
        List<RefusedCallback> refused = List.of(
                new RefusedCallback(
                        "outside the allow-list", "http://127.0.0.1:9/elsewhere/job", "ask the operator to add yours"),
                new RefusedCallback(
                        "a look-alike of the allowed prefix", "http://127.0.0.1:99/hooks/job", "ask the operator"),
                new RefusedCallback(
                        "a non-http scheme", "ftp://127.0.0.1:9/hooks/job", "only absolute http:// or https:// URLs"),
                new RefusedCallback("not a URL at all", "hooks/job", "only absolute http:// or https:// URLs"),
                new RefusedCallback(
                        "malformed (a space, a bad escape)", ALLOWED_HOOKS + "a b%zz", "percent-encode spaces"),
                new RefusedCallback(
                        "too long",
                        ALLOWED_HOOKS + "x".repeat(WebhookSettings.MAX_URL_LENGTH - ALLOWED_HOOKS.length() + 1),
                        "use a shorter URL"));
        List<String> markers = new ArrayList<>();
        for (RefusedCallback c : refused) {
            String marker = "callback-refused-" + UUID.randomUUID();
            markers.add(marker);
            Response r = postWithCallback(BODY.replace("a cat walking", marker), c.url());
            r.then()
                    .statusCode(400)
                    .contentType("application/problem+json")
                    .body("status", equalTo(400))
                    .body("violations.field", equalTo(List.of(WebhookSettings.CALLBACK_HEADER)));
            String detail = r.path("detail");
            assertTrue(detail.startsWith(WebhookSettings.CALLBACK_HEADER + ": "), c.what() + ": " + detail);
            assertTrue(detail.contains(c.advice()), c.what() + ": " + detail);
        }
        // the control: the same request with an allowed callback is queued, the URL on its record
        String allowedUrl = ALLOWED_HOOKS + "job-" + UUID.randomUUID();
        String marker = "callback-allowed-" + UUID.randomUUID();
        Response ok = postWithCallback(BODY.replace("a cat walking", marker), allowedUrl);
        ok.then().statusCode(202);
        ConsumerRecord<String, byte[]> queued = awaitRecord(Topics.GENERATE, ok.path("job_id"));
        assertEquals(
                allowedUrl,
                new String(queued.headers().lastHeader(JobContext.CALLBACK).value(), StandardCharsets.UTF_8));
        // every record of the generate topic up to (and including) the control's: none of the refused
        List<String> values = recordsWhere(Topics.GENERATE, r -> true).stream()
                .map(r -> new String(r.value(), StandardCharsets.UTF_8))
                .toList();
        assertTrue(values.stream().anyMatch(v -> v.contains(marker)), "the control job is on " + Topics.GENERATE);
        for (String m : markers) {
            assertFalse(values.stream().anyMatch(v -> v.contains(m)), "a refused submission was queued: " + m);
        }
    }

    static Response postWithCallback(String body, String callbackUrl) {
        return given().header("Authorization", KEY)
                .header(WebhookSettings.CALLBACK_HEADER, callbackUrl)
                .contentType(ContentType.JSON)
                .body(body)
                .post("/v1/animations");
    }

    // ---------------------------------------------------------------- restart

    @Test
    void aRestartedGatewayKnowsEveryJob() throws Exception {
        String queued = submit(BODY, KEY, null);
        String done = submit(BODY, KEY, null);
        publish(JobEvent.running(done, Instant.now(), 1, "w1", 2));
        publish(JobEvent.failed(
                done,
                Instant.now(),
                1,
                "w1",
                new io.animatediff.common.protocol.Failure(
                        io.animatediff.common.protocol.FailureCode.OUT_OF_MEMORY, "too big: ask for fewer frames")));
        await(() -> appView.get(done).map(s -> s.status() == JobStatus.FAILED).orElse(false), "FAILED");
        JobStateView fresh = new JobStateView();
        try (StateViewConsumer c = new StateViewConsumer(
                        () -> KafkaClients.stateViewConsumer(InProcessKafka.bootstrapServers),
                        Topics.JOB_EVENTS,
                        fresh,
                        Duration.ofMillis(100),
                        Duration.ofMillis(500),
                        Clock.systemUTC())
                .start()) {
            await(c::caughtUp, "a second state view to catch up");
            List<JobState> before = appView.list(Optional.empty(), 0, 100_000).items();
            assertTrue(before.size() >= 2);
            for (JobState s : before) {
                JobState other = fresh.get(s.jobId()).orElseThrow(() -> new AssertionError("lost " + s.jobId()));
                assertEquals(s.status(), other.status(), s.jobId());
                assertEquals(s.progress(), other.progress(), s.jobId());
                assertEquals(s.results(), other.results(), s.jobId());
                assertEquals(s.failure(), other.failure(), s.jobId());
            }
            assertEquals(JobStatus.QUEUED, fresh.get(queued).orElseThrow().status());
            assertEquals(
                    "too big: ask for fewer frames",
                    fresh.get(done).orElseThrow().failure().reason());
        }
    }

    // ---------------------------------------------------------------- models

    @Test
    void modelUploadListGetDeleteRoundTripWithSha256Checked() throws Exception {
        byte[] bytes = new byte[300_000];
        new java.util.Random(7).nextBytes(bytes);
        String sha = Sha256.hex(bytes);
        // 1. a wrong X-Sha256 registers nothing
        given().header("Authorization", KEY)
                .header("X-Sha256", "0".repeat(64))
                .contentType("application/octet-stream")
                .body(bytes)
                .post("/v1/models/motion/up-motion?path=mm.safetensors&max_frames=24")
                .then()
                .statusCode(422)
                .body("violations[0].field", equalTo("X-Sha256"));
        given().header("Authorization", KEY)
                .get("/v1/models/motion/up-motion")
                .then()
                .statusCode(404);
        // 2. the right one registers it, and again is a no-op
        given().header("Authorization", KEY)
                .header("X-Sha256", sha)
                .contentType("application/octet-stream")
                .body(bytes)
                .post("/v1/models/motion/up-motion?path=mm.safetensors&max_frames=24")
                .then()
                .statusCode(201)
                .body("files[0].sha256", equalTo(sha))
                .body("files[0].size", equalTo(bytes.length))
                .body("format", equalTo("motion-safetensors"))
                .body("config.max_frames", equalTo(24));
        given().header("Authorization", KEY)
                .header("X-Sha256", sha)
                .contentType("application/octet-stream")
                .body(bytes)
                .post("/v1/models/motion/up-motion?path=mm.safetensors&max_frames=24")
                .then()
                .statusCode(200);
        assertArrayEquals(
                bytes, store.getBytes(ModelRegistry.fileKey(ModelKind.MOTION, "up-motion", "mm.safetensors")));
        given().header("Authorization", KEY)
                .get("/v1/models?kind=motion")
                .then()
                .statusCode(200)
                .body("models.name", hasItem("up-motion"));
        // the new module is usable at once, with its frame limit
        post(BODY.replace("tiny-motion", "up-motion").replace("\"num_frames\": 8", "\"num_frames\": 24"), KEY, null)
                .then()
                .statusCode(202);
        // 3. delete
        given().header("Authorization", KEY)
                .delete("/v1/models/motion/up-motion")
                .then()
                .statusCode(204);
        given().header("Authorization", KEY)
                .get("/v1/models/motion/up-motion")
                .then()
                .statusCode(404);
        given().header("Authorization", KEY)
                .delete("/v1/models/motion/up-motion")
                .then()
                .statusCode(404);
        given().header("Authorization", KEY)
                .get("/v1/models/bogus/x")
                .then()
                .statusCode(400)
                .body("violations[0].field", equalTo("kind"));
    }

    @Test
    void multiFileModelsUploadWithPresignedPutsAndFinalize() throws Exception {
        byte[] config = "{\"sample_size\": 8}".getBytes(StandardCharsets.UTF_8);
        byte[] weights = new byte[4096];
        new java.util.Random(3).nextBytes(weights);
        Response plan = given().header("Authorization", KEY)
                .contentType(ContentType.JSON)
                .body("{\"files\": [\"unet/config.json\", \"unet/diffusion_pytorch_model.safetensors\"]}")
                .post("/v1/models/base/multi-base/uploads");
        plan.then().statusCode(200).body("finalize", equalTo("/v1/models/base/multi-base/finalize"));
        HttpClient http = HttpClient.newHttpClient();
        for (int i = 0; i < 2; i++) {
            String url = plan.path("files[" + i + "].url");
            byte[] data = i == 0 ? config : weights;
            HttpResponse<String> put = http.send(
                    HttpRequest.newBuilder(URI.create(url))
                            .PUT(HttpRequest.BodyPublishers.ofByteArray(data))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, put.statusCode(), put.body());
        }
        String files = "[{\"path\": \"unet/config.json\", \"sha256\": \"" + Sha256.hex(config) + "\", \"size\": "
                + config.length + "}, {\"path\": \"unet/diffusion_pytorch_model.safetensors\", \"sha256\": \"%s\","
                + " \"size\": " + weights.length + "}]";
        assertEquals(2, store.list("models/base/multi-base/").size(), "both uploads are in the bucket");
        // a wrong declaration is refused, and every upload of the model removed
        given().header("Authorization", KEY)
                .contentType(ContentType.JSON)
                .body("{\"format\": \"diffusers\", \"files\": " + String.format(files, "a".repeat(64)) + "}")
                .post("/v1/models/base/multi-base/finalize")
                .then()
                .statusCode(422)
                .body("type", equalTo("/problems/checksum-mismatch"));
        assertEquals(List.of(), store.list("models/base/multi-base/"), "objects left behind");
        // upload both files again, then finalize correctly
        for (int i = 0; i < 2; i++) {
            http.send(
                    HttpRequest.newBuilder(URI.create(plan.path("files[" + i + "].url")))
                            .PUT(HttpRequest.BodyPublishers.ofByteArray(i == 0 ? config : weights))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
        }
        given().header("Authorization", KEY)
                .contentType(ContentType.JSON)
                .body("{\"format\": \"diffusers\", \"files\": " + String.format(files, Sha256.hex(weights)) + "}")
                .post("/v1/models/base/multi-base/finalize")
                .then()
                .statusCode(201)
                .body("files.path", hasItem("unet/diffusion_pytorch_model.safetensors"));
        given().header("Authorization", KEY)
                .get("/v1/models/base/multi-base")
                .then()
                .statusCode(200);
        given().header("Authorization", KEY)
                .delete("/v1/models/base/multi-base")
                .then()
                .statusCode(204);
    }

    // ---------------------------------------------------------------- helpers

    static Response post(String body, String key, String idempotencyKey) {
        var spec = given().header("Authorization", key)
                .contentType(ContentType.JSON)
                .body(body);
        if (idempotencyKey != null) {
            spec = spec.header("Idempotency-Key", idempotencyKey);
        }
        return spec.post("/v1/animations");
    }

    static String submit(String body, String key, String idempotencyKey) {
        Response r = post(body, key, idempotencyKey);
        r.then()
                .statusCode(202)
                .body("status", notNullValue())
                .body("links.self", notNullValue())
                .body("links.events", notNullValue())
                .body("links.cancel", notNullValue());
        return r.path("job_id");
    }

    static void publish(JobEvent e) {
        try {
            producer.send(new ProducerRecord<>(Topics.JOB_EVENTS, e.jobId(), Json.writeBytes(e)))
                    .get(10, TimeUnit.SECONDS);
        } catch (Exception ex) {
            throw new IllegalStateException(ex);
        }
    }

    static ConsumerRecord<String, byte[]> awaitRecord(String topic, String key) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            List<ConsumerRecord<String, byte[]>> found = records(topic, key);
            if (!found.isEmpty()) {
                return found.get(0);
            }
        }
        throw new AssertionError("no record with key " + key + " on " + topic);
    }

    /** Every record with {@code key} on the topic (reads all partitions from the beginning). */
    static List<ConsumerRecord<String, byte[]>> records(String topic, String key) {
        return recordsWhere(topic, r -> key.equals(r.key()));
    }

    /** Every record on the topic that {@code keep} accepts (all partitions from the beginning to their end). */
    static List<ConsumerRecord<String, byte[]>> recordsWhere(
            String topic, java.util.function.Predicate<ConsumerRecord<String, byte[]>> keep) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, InProcessKafka.bootstrapServers);
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
            Map<TopicPartition, Long> ends = c.endOffsets(parts);
            List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (parts.stream().anyMatch(tp -> c.position(tp) < ends.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    if (keep.test(r)) {
                        out.add(r);
                    }
                }
            }
            return out;
        }
    }

    static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
