package io.animatediff.common.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.animatediff.common.InvalidMessageException;
import io.animatediff.common.Json;
import java.math.BigInteger;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProtocolJsonTest {
    private static final Instant T0 = Instant.parse("2026-01-02T03:04:05.678Z");
    private static final String BIG_SEED = "13100322578370451493";

    static GenerationRequest fullRequest() {
        return GenerationRequest.builder()
                .prompt("a corgi surfing a wave, golden hour")
                .negativePrompt("blurry, low quality")
                .baseModel("realistic-vision-v5")
                .motionModule("mm-sd-v15-v2")
                .loras(List.of(new LoraSpec("detail-tweaker", 0.6), new LoraSpec("v3-adapter", 1.0)))
                .motionLoras(List.of(new LoraSpec("zoom-in", 0.8)))
                .numFrames(24)
                .width(512)
                .height(768)
                .numInferenceSteps(30)
                .guidanceScale(8.0)
                .scheduler("euler")
                .seed(Seed.parse(BIG_SEED))
                .outputFormats(List.of("gif", "mp4", "png"))
                .fps(12)
                .promptMap(Map.of(0, "a corgi on the beach", 12, "a corgi surfing a wave"))
                .motionScale(1.2)
                .context(new ContextOptions(16, 4, 2, "looped", "flat", true))
                .video("R0lGODlhAQABAAAAACw=")
                .strength(0.6)
                .freeInit(new FreeInitOptions(2, "gaussian", 4, 0.25, 0.4, true))
                .timestepSpacing("trailing")
                .build();
    }

    @Test
    void generationFeaturesReadFromDiffusersStyleJson() {
        GenerationRequest r = Json.readStrict(
                "{\"prompt\":\"p\",\"base_model\":\"b\",\"motion_module\":\"m\",\"num_frames\":48,"
                        + "\"prompt_map\":{\"0\":\"a cat\",\"24\":\"a dog\"},\"context\":{\"length\":16},"
                        + "\"free_init\":{\"num_iters\":2},\"scheduler\":\"lcm\",\"timestep_spacing\":\"trailing\"}",
                GenerationRequest.class);
        assertEquals(List.of(0, 24), List.copyOf(r.promptMap().keySet()));
        assertEquals("a dog", r.promptMap().get(24));
        assertEquals(ContextOptions.defaults(), r.context());
        assertEquals(new FreeInitOptions(2, "butterworth", 4, 0.25, 0.25, false), r.freeInit());
        assertEquals(1.0, r.motionScale());
        assertEquals(GenerationRequest.DEFAULT_STRENGTH, r.strength());
        assertEquals(null, r.video());
        assertEquals("trailing", r.timestepSpacing());
    }

    private static JsonNode tree(Object o) throws Exception {
        return Json.mapper().readTree(Json.write(o));
    }

    @Test
    void generationRequestRoundTripsWithSnakeCaseNames() throws Exception {
        GenerationRequest r = fullRequest();
        String json = Json.write(r);
        assertEquals(r, Json.read(json, GenerationRequest.class));
        assertEquals(r, Json.readStrict(json, GenerationRequest.class));
        JsonNode node = tree(r);
        for (String field : GenerationRequest.Fields.ALL) {
            assertTrue(node.has(field), field + " missing in " + json);
        }
        assertEquals(GenerationRequest.Fields.ALL.size(), node.size(), json);
        assertEquals(BIG_SEED, node.get("seed").asText());
        assertEquals(0.6, node.get("loras").get(0).get("scale").asDouble());
    }

    @Test
    void absentFieldsTakeTheOfficialDefaults() {
        GenerationRequest r = Json.readStrict(
                "{\"prompt\":\"p\",\"base_model\":\"b\",\"motion_module\":\"m\"}", GenerationRequest.class);
        assertEquals(16, r.numFrames());
        assertEquals(512, r.width());
        assertEquals(512, r.height());
        assertEquals(25, r.numInferenceSteps());
        assertEquals(7.5, r.guidanceScale());
        assertEquals("ddim", r.scheduler());
        assertEquals(List.of("gif"), r.outputFormats());
        assertEquals(8, r.fps());
        assertEquals(null, r.seed());
        assertEquals(List.of(), r.loras());
        assertEquals("", r.negativePrompt());
        assertEquals(
                r,
                GenerationRequest.builder()
                        .prompt("p")
                        .baseModel("b")
                        .motionModule("m")
                        .build());
        assertFalse(Json.write(r).contains("\"seed\""), "an absent seed stays absent");
    }

    @Test
    void bigSeedReadsFromNumberAndFromString() {
        String base = "{\"prompt\":\"p\",\"base_model\":\"b\",\"motion_module\":\"m\",\"seed\":";
        GenerationRequest asNumber = Json.readStrict(base + BIG_SEED + "}", GenerationRequest.class);
        GenerationRequest asString = Json.readStrict(base + "\"" + BIG_SEED + "\"}", GenerationRequest.class);
        assertEquals(asNumber, asString);
        assertEquals(BIG_SEED, asNumber.seed().toString());
        assertEquals(new BigInteger(BIG_SEED), asNumber.seed().toBigInteger());
        assertTrue(asNumber.seed().bits() < 0, "above 2^63-1 the signed bits are negative");
        assertEquals(asNumber, Json.read(Json.write(asNumber), GenerationRequest.class));
        // the extremes
        assertEquals(
                "18446744073709551615",
                Json.readStrict(base + "18446744073709551615}", GenerationRequest.class)
                        .seed()
                        .toString());
        assertEquals(
                "0",
                Json.readStrict(base + "0}", GenerationRequest.class).seed().toString());
    }

    @Test
    void badSeedsAreRefusedNamingTheField() {
        String base = "{\"prompt\":\"p\",\"base_model\":\"b\",\"motion_module\":\"m\",\"seed\":";
        for (String bad : List.of("18446744073709551616", "-1", "1.5", "\"12a\"", "\"-3\"", "\"\"", "true", "[1]")) {
            InvalidMessageException e = assertThrows(
                    InvalidMessageException.class,
                    () -> Json.readStrict(base + bad + "}", GenerationRequest.class),
                    bad);
            assertEquals("seed", e.field(), bad + ": " + e.getMessage());
            assertTrue(e.getMessage().contains("unsigned"), e.getMessage());
        }
    }

    @Test
    void strictNumbersAndUnknownFields() {
        String base = "{\"prompt\":\"p\",\"base_model\":\"b\",\"motion_module\":\"m\",";
        InvalidMessageException floatFrames = assertThrows(
                InvalidMessageException.class,
                () -> Json.readStrict(base + "\"num_frames\":16.5}", GenerationRequest.class));
        assertEquals("num_frames", floatFrames.field(), floatFrames.getMessage());
        InvalidMessageException stringSteps = assertThrows(
                InvalidMessageException.class,
                () -> Json.readStrict(base + "\"num_inference_steps\":\"25\"}", GenerationRequest.class));
        assertEquals("num_inference_steps", stringSteps.field(), stringSteps.getMessage());
        InvalidMessageException overflow = assertThrows(
                InvalidMessageException.class,
                () -> Json.readStrict(base + "\"width\":99999999999}", GenerationRequest.class));
        assertEquals("width", overflow.field(), overflow.getMessage());
        InvalidMessageException duplicate = assertThrows(
                InvalidMessageException.class,
                () -> Json.readStrict(base + "\"fps\":8,\"fps\":9}", GenerationRequest.class));
        assertTrue(duplicate.getMessage().contains("fps"), duplicate.getMessage());
        InvalidMessageException nullEntry = assertThrows(
                InvalidMessageException.class,
                () -> Json.readStrict(base + "\"loras\":[{\"name\":\"a\"},null]}", GenerationRequest.class));
        assertEquals("loras[1]", nullEntry.field(), nullEntry.getMessage());
        InvalidMessageException numberAsText = assertThrows(
                InvalidMessageException.class,
                () -> Json.readStrict("{\"prompt\":1,\"base_model\":\"b\"}", GenerationRequest.class));
        assertEquals("prompt", numberAsText.field(), numberAsText.getMessage());
        InvalidMessageException notJson =
                assertThrows(InvalidMessageException.class, () -> Json.readStrict("{", GenerationRequest.class));
        assertTrue(notJson.getMessage().contains("line 1"), notJson.getMessage());
        // an integer where a double is expected is fine
        assertEquals(
                7.0,
                Json.readStrict(base + "\"guidance_scale\":7}", GenerationRequest.class)
                        .guidanceScale());

        // typo: rejected by the strict (user-facing) reader, ignored by the queue reader
        String typo = base + "\"num_frame\":8}";
        InvalidMessageException unknown =
                assertThrows(InvalidMessageException.class, () -> Json.readStrict(typo, GenerationRequest.class));
        assertTrue(unknown.getMessage().contains("num_frame"), unknown.getMessage());
        assertTrue(unknown.getMessage().contains("spelling"), unknown.getMessage());
        assertEquals(16, Json.read(typo, GenerationRequest.class).numFrames());
        // a nested typo names its path
        InvalidMessageException nested = assertThrows(
                InvalidMessageException.class,
                () -> Json.readStrict(base + "\"loras\":[{\"name\":\"a\",\"weight\":1}]}", GenerationRequest.class));
        assertEquals("loras[0].weight", nested.field(), nested.getMessage());
    }

    @Test
    void generationJobRoundTripsWithSchema() throws Exception {
        GenerationJob job = GenerationJob.create("job-1", T0, fullRequest());
        JsonNode node = tree(job);
        assertEquals(1, node.get("schema").asInt());
        assertEquals("job-1", node.get("job_id").asText());
        assertEquals("2026-01-02T03:04:05.678Z", node.get("submitted_at").asText());
        assertEquals(1, node.get("attempt").asInt());
        assertEquals(BIG_SEED, node.get("request").get("seed").asText());
        assertEquals(job, Json.read(Json.write(job), GenerationJob.class));
        assertEquals(
                2, Json.read(Json.write(job.nextAttempt()), GenerationJob.class).attempt());
    }

    @Test
    void queueMessagesIgnoreUnknownFieldsButValidateKnownOnes() throws Exception {
        GenerationJob job = GenerationJob.create("job-1", T0, fullRequest());
        com.fasterxml.jackson.databind.node.ObjectNode node =
                (com.fasterxml.jackson.databind.node.ObjectNode) tree(job);
        node.put("priority", "high"); // a field from a newer producer
        assertEquals(job, Json.read(node.toString(), GenerationJob.class));

        node.put("schema", 2);
        InvalidMessageException newer =
                assertThrows(InvalidMessageException.class, () -> Json.read(node.toString(), GenerationJob.class));
        assertEquals("schema", newer.field());
        assertTrue(newer.getMessage().contains("upgrade"), newer.getMessage());

        node.remove("schema");
        InvalidMessageException missing =
                assertThrows(InvalidMessageException.class, () -> Json.read(node.toString(), GenerationJob.class));
        assertEquals("schema", missing.field(), missing.getMessage());

        node.put("schema", 1);
        node.put("job_id", "../etc");
        InvalidMessageException badId =
                assertThrows(InvalidMessageException.class, () -> Json.read(node.toString(), GenerationJob.class));
        assertEquals("job_id", badId.field(), badId.getMessage());

        node.put("job_id", "job-1");
        ((com.fasterxml.jackson.databind.node.ObjectNode) node.get("request")).remove("seed");
        InvalidMessageException noSeed =
                assertThrows(InvalidMessageException.class, () -> Json.read(node.toString(), GenerationJob.class));
        assertEquals("request.seed", noSeed.field(), noSeed.getMessage());
    }

    @Test
    void trainingJobRoundTrips() throws Exception {
        TrainingRequest r = TrainingRequest.of(
                        ModelKind.MOTION_LORA, "s3://animatediff/datasets/zoom/", "sd15", "mm-sd-v15-v2", "zoom-in-2")
                .withSeed(Seed.parse(BIG_SEED))
                .withMaxTrainSteps(200);
        TrainingJob job = TrainingJob.create("train-7", T0, r);
        JsonNode node = tree(job);
        assertEquals(1, node.get("schema").asInt());
        for (String f : TrainingRequest.FIELDS) {
            assertTrue(node.get("request").has(f), f);
        }
        assertEquals("motion-lora", node.get("request").get("kind").asText());
        assertEquals(1e-4, node.get("request").get("learning_rate").asDouble());
        assertEquals(job, Json.read(Json.write(job), TrainingJob.class));
        TrainingRequest defaults = Json.readStrict(
                "{\"dataset_uri\":\"s3://b/d/\",\"base_model\":\"sd15\",\"output_name\":\"x\"}", TrainingRequest.class);
        assertEquals("motion", defaults.kind());
        assertEquals(4, defaults.trainBatchSize());
        assertEquals(16, defaults.numFrames());
        assertEquals(4, defaults.sampleStride());
        assertEquals(256, defaults.resolution());
    }

    @Test
    void everyJobEventTypeRoundTrips() throws Exception {
        List<JobEvent> events = List.of(
                JobEvent.queued("j1", T0, 1),
                JobEvent.running("j1", T0, 1, "worker-a", 25),
                JobEvent.progress("j1", T0, 1, "worker-a", 7, 25),
                JobEvent.succeeded(
                        "j1",
                        T0,
                        1,
                        "worker-a",
                        List.of(new ResultObject("gif", "results/j1/animation.gif", 1234, "a".repeat(64)))),
                JobEvent.failed(
                        "j1",
                        T0,
                        2,
                        "worker-b",
                        new Failure(
                                FailureCode.INVALID_REQUEST,
                                "motion module 'mm-v1' supports 24 frames: pass num_frames <= 24")),
                JobEvent.cancelled("j1", T0, 1, null));
        for (JobEvent e : events) {
            String json = Json.write(e);
            assertEquals(e, Json.read(json, JobEvent.class), json);
            JsonNode node = tree(e);
            assertEquals(1, node.get("schema").asInt(), json);
            assertEquals(e.type().name(), node.get("type").asText());
            assertEquals("2026-01-02T03:04:05.678Z", node.get("timestamp").asText());
        }
        JsonNode progress = tree(events.get(2));
        assertEquals(7, progress.get("progress").get("step").asInt());
        assertEquals(25, progress.get("progress").get("total").asInt());
        assertFalse(progress.has("results"));
        assertFalse(progress.has("failure"));
        JsonNode failed = tree(events.get(4));
        assertEquals("INVALID_REQUEST", failed.get("failure").get("code").asText());
        assertTrue(events.get(3).isTerminal());
        assertFalse(events.get(2).isTerminal());
    }

    @Test
    void impossibleEventsAreRefused() {
        String base = "{\"schema\":1,\"job_id\":\"j\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"attempt\":1,";
        assertEquals(
                "progress",
                assertThrows(
                                InvalidMessageException.class,
                                () -> Json.read(base + "\"type\":\"PROGRESS\",\"worker_id\":\"w\"}", JobEvent.class))
                        .field());
        assertEquals(
                "results",
                assertThrows(
                                InvalidMessageException.class,
                                () -> Json.read(
                                        base + "\"type\":\"SUCCEEDED\",\"worker_id\":\"w\",\"results\":[]}",
                                        JobEvent.class))
                        .field());
        assertEquals(
                "failure",
                assertThrows(
                                InvalidMessageException.class,
                                () -> Json.read(base + "\"type\":\"FAILED\"}", JobEvent.class))
                        .field());
        assertEquals(
                "worker_id",
                assertThrows(
                                InvalidMessageException.class,
                                () -> Json.read(
                                        base + "\"type\":\"RUNNING\",\"progress\":{\"step\":0,\"total\":3}}",
                                        JobEvent.class))
                        .field());
        InvalidMessageException badProgress = assertThrows(
                InvalidMessageException.class,
                () -> Json.read(
                        base + "\"type\":\"PROGRESS\",\"worker_id\":\"w\",\"progress\":{\"step\":4,\"total\":3}}",
                        JobEvent.class));
        assertEquals("progress.step", badProgress.field(), badProgress.getMessage());
        assertThrows(
                InvalidMessageException.class,
                () -> Json.read(
                        base + "\"type\":\"QUEUED\",\"failure\":{\"code\":\"INTERNAL\",\"reason\":\"x\"}}",
                        JobEvent.class));
        assertThrows(InvalidMessageException.class, () -> Json.read(base + "\"type\":\"EXPLODED\"}", JobEvent.class));
    }

    @Test
    void waitingEventsCarryPhaseAndMessageCompatibly() throws Exception {
        JobEvent waiting = JobEvent.waiting(
                "j1",
                T0,
                2,
                "worker-a",
                JobEvent.PHASE_WAITING_FOR_STORAGE,
                "waiting for storage: attempt 3, next retry in 2000 ms");
        String json = Json.write(waiting);
        assertEquals(waiting, Json.read(json, JobEvent.class), json);
        assertEquals(JobEventType.RUNNING, waiting.type());
        assertEquals("waiting_for_storage", tree(waiting).get("phase").asText());
        assertTrue(tree(waiting).get("message").asText().startsWith("waiting for storage"), json);
        // events without them are written as before (no null fields) and read back with nulls
        String plain = Json.write(JobEvent.progress("j1", T0, 1, "worker-a", 7, 25));
        assertFalse(plain.contains("phase") || plain.contains("message"), plain);
        assertNull(Json.read(plain, JobEvent.class).phase());
        // every consumer reads leniently: unknown fields are skipped, as readers older than phase and
        // message skip those
        assertEquals(
                "j1",
                Json.read(json.replace("{", "{\"field_from_the_future\":{\"x\":1},"), JobEvent.class)
                        .jobId());
        String base = "{\"schema\":1,\"job_id\":\"j\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"attempt\":1,";
        assertEquals(
                "phase",
                assertThrows(
                                InvalidMessageException.class,
                                () -> Json.read(
                                        base + "\"type\":\"QUEUED\",\"phase\":\"waiting_for_storage\"}",
                                        JobEvent.class))
                        .field());
        assertEquals(
                "message",
                assertThrows(
                                InvalidMessageException.class,
                                () -> Json.read(
                                        base + "\"type\":\"RUNNING\",\"worker_id\":\"w\",\"message\":\"x\"}",
                                        JobEvent.class))
                        .field());
    }

    @Test
    void unknownFailureCodesReadAsUnknown() {
        JobEvent e = Json.read(
                "{\"schema\":1,\"job_id\":\"j\",\"type\":\"FAILED\",\"timestamp\":\"2026-01-01T00:00:00Z\","
                        + "\"attempt\":1,\"failure\":{\"code\":\"GPU_ON_FIRE\",\"reason\":\"hot\"}}",
                JobEvent.class);
        assertEquals(FailureCode.UNKNOWN, e.failure().code());
        assertFalse(e.failure().code().retryable());
    }

    @Test
    void cancelRequestRoundTrips() throws Exception {
        CancelRequest c = CancelRequest.of("job-9", T0, "user pressed stop");
        assertEquals(c, Json.read(Json.write(c), CancelRequest.class));
        assertEquals(1, tree(c).get("schema").asInt());
        assertEquals("job-9", tree(c).get("job_id").asText());
        CancelRequest noReason = CancelRequest.of("job-9", T0, null);
        assertFalse(Json.write(noReason).contains("reason"));
        assertEquals(noReason, Json.read(Json.write(noReason), CancelRequest.class));
    }

    @Test
    void seedBasics() {
        assertEquals("18446744073709551615", Seed.of(-1L).toString());
        assertEquals(Seed.of(-1L), Seed.of(Seed.MAX));
        assertEquals(Seed.of(42), Seed.parse("42"));
        assertThrows(IllegalArgumentException.class, () -> Seed.parse("+1"));
        assertThrows(IllegalArgumentException.class, () -> Seed.parse("018446744073709551615"));
        assertThrows(IllegalArgumentException.class, () -> Seed.of(Seed.MAX.add(BigInteger.ONE)));
        assertTrue(JobIds.isValid(JobIds.newId()));
    }
}
