package io.animatediff.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.TrainingJob;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/trainings} over real HTTP against an in-process Kafka broker and S3Proxy: a valid
 * request lands on {@code animatediff.train} with a fixed seed, GET shows it QUEUED, an
 * Idempotency-Key replays the same job, bad hyper-parameters are 400 naming the field and an
 * unregistered base model is 422.
 */
@QuarkusTest
@QuarkusTestResource(value = InProcessKafka.class, restrictToAnnotatedClass = true)
@QuarkusTestResource(value = InProcessS3.class, restrictToAnnotatedClass = true)
class TrainingHttpTest {
    static final String KEY = "Bearer test-key";
    static final String BODY = "{\"kind\": \"motion\", \"dataset_uri\": \"s3://animatediff/datasets/tiny/\","
            + " \"base_model\": \"train-base\", \"motion_module\": \"train-motion\", \"output_name\": \"my-motion\","
            + " \"max_train_steps\": 20, \"train_batch_size\": 1, \"num_frames\": 8, \"resolution\": 64}";

    static ObjectStore store;

    @BeforeAll
    static void models() throws Exception {
        store = InProcessS3.server.newStore(InProcessS3.BUCKET);
        ModelRegistry r = new ModelRegistry(store);
        Path w = Files.write(Files.createTempDirectory("training-it").resolve("w.safetensors"), new byte[] {1, 2});
        if (r.find(ModelKind.BASE, "train-base").isEmpty()) {
            r.register(
                    ModelKind.BASE,
                    "train-base",
                    ModelFormat.LDM_SAFETENSORS,
                    List.of(LocalModelFile.of("model.safetensors", w)),
                    Map.of());
            r.register(
                    ModelKind.MOTION,
                    "train-motion",
                    ModelFormat.MOTION_SAFETENSORS,
                    List.of(LocalModelFile.of("mm.safetensors", w)),
                    Map.of("max_frames", 16));
        }
    }

    @AfterAll
    static void close() {
        store.close();
    }

    static String submit(String body, String idempotencyKey) {
        var req = given().header("Authorization", KEY).contentType(ContentType.JSON);
        if (idempotencyKey != null) {
            req = req.header("Idempotency-Key", idempotencyKey);
        }
        return req.body(body)
                .post("/v1/trainings")
                .then()
                .statusCode(202)
                .body("status", equalTo("QUEUED"))
                .extract()
                .path("job_id");
    }

    @Test
    void aTrainingRequestIsQueuedOnTheTrainTopic() {
        String id = submit(BODY, null);
        TrainingJob job =
                Json.read(GatewayHttpTest.awaitRecord(Topics.TRAIN, id).value(), TrainingJob.class);
        assertEquals(id, job.jobId());
        assertEquals("my-motion", job.request().outputName());
        assertEquals(20, job.request().maxTrainSteps());
        assertEquals(1e-4, job.request().learningRate(), 0.0);
        assertNotNull(job.request().seed(), "the gateway fixes the seed");
        given().header("Authorization", KEY)
                .get("/v1/trainings/" + id)
                .then()
                .statusCode(200)
                .body("job_id", equalTo(id))
                .body("status", equalTo("QUEUED"));
        given().header("Authorization", "Bearer other-key")
                .get("/v1/trainings/" + id)
                .then()
                .statusCode(403);
    }

    @Test
    void anIdempotencyKeyReplaysTheSameJob() {
        String a = submit(BODY, "nightly-2026-11-28");
        String b = given().header("Authorization", KEY)
                .header("Idempotency-Key", "nightly-2026-11-28")
                .contentType(ContentType.JSON)
                .body(BODY)
                .post("/v1/trainings")
                .then()
                .statusCode(202)
                .header("Idempotent-Replayed", "true")
                .extract()
                .path("job_id");
        assertEquals(a, b);
        given().header("Authorization", KEY)
                .header("Idempotency-Key", "nightly-2026-11-28")
                .contentType(ContentType.JSON)
                .body(BODY.replace("\"max_train_steps\": 20", "\"max_train_steps\": 21"))
                .post("/v1/trainings")
                .then()
                .statusCode(422);
    }

    @Test
    void badHyperParametersAre400AndUnknownModels422() {
        given().header("Authorization", KEY)
                .contentType(ContentType.JSON)
                .body(BODY.replace("\"train_batch_size\": 1", "\"train_batch_size\": 0, \"learning_rate\": 5"))
                .post("/v1/trainings")
                .then()
                .statusCode(400)
                .body("violations.field", hasItem("train_batch_size"))
                .body("violations.field", hasItem("learning_rate"));
        given().header("Authorization", KEY)
                .contentType(ContentType.JSON)
                .body(BODY.replace("\"num_frames\": 8", "\"num_frames\": 17"))
                .post("/v1/trainings")
                .then()
                .statusCode(400)
                .body("violations.field", hasItem("num_frames"));
        given().header("Authorization", KEY)
                .contentType(ContentType.JSON)
                .body(BODY.replace("train-base", "no-such-base"))
                .post("/v1/trainings")
                .then()
                .statusCode(422);
        given().contentType(ContentType.JSON)
                .body(BODY)
                .post("/v1/trainings")
                .then()
                .statusCode(401);
    }
}
