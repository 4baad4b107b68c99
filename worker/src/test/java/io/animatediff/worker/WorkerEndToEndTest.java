package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.animatediff.common.Json;
import io.animatediff.common.protocol.FailureCode;
import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.protocol.LoraSpec;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.common.protocol.Seed;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.store.S3ProxyServer;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.pipeline.NativeHeap;
import io.animatediff.engine.weights.SafetensorsFile;
import io.animatediff.engine.weights.SafetensorsWriter;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * One worker on a real in-process broker and S3 server, running the engine on the built-in tiny
 * model: the job lifecycle, caches, LoRA isolation, cancel, failures, the DLQ and redelivery.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WorkerEndToEndTest {
    private FleetFixture fleet;
    private Worker worker;

    /** The fleet the scenarios run on: the in-process broker and S3Proxy here. */
    FleetFixture newFleet() throws Exception {
        return new FleetFixture();
    }

    @BeforeAll
    void start() throws Exception {
        fleet = newFleet();
        worker = fleet.startWorker("w1", b -> b.healthPort(0));
    }

    @AfterAll
    void stop() throws Exception {
        fleet.close();
    }

    @Test
    void jobEndsSucceededWithEveryFormatUnderTheContractKeys() throws Exception {
        GenerationJob job = fleet.submit(FleetFixture.tinyRequest()
                .numInferenceSteps(3)
                .outputFormats(List.of("gif", "mp4", "png", "frames"))
                .build());
        List<JobEvent> events = fleet.awaitTerminal(job.jobId());

        // QUEUED (the test's, as the gateway's), RUNNING, PROGRESS 1..3, SUCCEEDED
        List<JobEventType> types = events.stream().map(JobEvent::type).toList();
        assertEquals(JobEventType.QUEUED, types.get(0), types.toString());
        assertEquals(JobEventType.RUNNING, types.get(1), types.toString());
        assertEquals(JobEventType.SUCCEEDED, types.get(types.size() - 1), types.toString());
        List<JobEvent> progress =
                events.stream().filter(e -> e.type() == JobEventType.PROGRESS).toList();
        assertEquals(
                List.of(1, 2, 3),
                progress.stream().map(e -> e.progress().step()).toList());
        assertTrue(progress.stream().allMatch(e -> e.progress().total() == 3));
        assertEquals(0, events.get(1).progress().step());
        for (JobEvent e : events.subList(1, events.size())) {
            assertEquals("w1", e.workerId());
            assertEquals(1, e.attempt());
        }

        // results: every format at its key, sizes and hashes as stored
        String prefix = "results/" + job.jobId() + "/";
        List<ResultObject> results = events.get(events.size() - 1).results();
        List<String> keys = results.stream().map(ResultObject::key).toList();
        assertEquals(
                List.of(
                        prefix + "animation.gif",
                        prefix + "animation.mp4",
                        prefix + "frames/frame_0000.png",
                        prefix + "frames/frame_0001.png",
                        prefix + "frames/frame_0002.png",
                        prefix + "frames/frame_0003.png",
                        prefix + "frames.safetensors"),
                keys);
        for (ResultObject r : results) {
            byte[] bytes = fleet.store.getBytes(r.key());
            assertEquals(r.size(), bytes.length, r.key());
            assertEquals(r.sha256(), io.animatediff.common.store.Sha256.hex(bytes), r.key());
        }
        assertEquals(4, gifFrames(fleet.store.getBytes(prefix + "animation.gif")));
        assertNotNull(ImageIO.read(new ByteArrayInputStream(fleet.store.getBytes(prefix + "frames/frame_0002.png"))));
        assertEquals(keys.size(), fleet.store.list(prefix).size());
    }

    @Test
    void secondJobOnTheSameModelsHitsTheMemoryCache() throws Exception {
        // a base registered under its own name: a key no other test loaded
        fleet.registry.register(
                ModelKind.BASE,
                "cache-test-base",
                ModelFormat.DIFFUSERS,
                fleet.registry.get(ModelKind.BASE, BuiltinModels.NAME).files().stream()
                        .map(f -> LocalModelFile.of(
                                f.path(), fleet.dir.resolve("builtin/base").resolve(f.path())))
                        .toList(),
                Map.of());
        WorkerMetrics m = worker.metrics();
        long trims0 = m.nativeHeapTrims();
        long hits0 = m.modelCacheHits();
        long misses0 = m.modelCacheMisses();
        GenerationJob cold = fleet.submit(
                FleetFixture.tinyRequest().baseModel("cache-test-base").build());
        JobEvent coldEnd = last(fleet.awaitTerminal(cold.jobId()));
        assertEquals(JobEventType.SUCCEEDED, coldEnd.type());
        long coldFirstStep = m.lastTimeToFirstStepNanos();
        assertEquals(misses0 + 1, m.modelCacheMisses());
        assertEquals(hits0, m.modelCacheHits());

        // the worker trims malloc's free blocks after each job (in handle's finally, after the event)
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (NativeHeap.available() && m.nativeHeapTrims() < trims0 + 1 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        if (NativeHeap.available()) {
            assertTrue(m.nativeHeapTrims() >= trims0 + 1, "a trim after the first job: " + m.nativeHeapTrims());
        }
        GenerationJob warm = fleet.submit(
                FleetFixture.tinyRequest().baseModel("cache-test-base").build());
        JobEvent warmEnd = last(fleet.awaitTerminal(warm.jobId()));
        assertEquals(JobEventType.SUCCEEDED, warmEnd.type());
        long warmFirstStep = m.lastTimeToFirstStepNanos();
        assertEquals(misses0 + 1, m.modelCacheMisses());
        assertEquals(hits0 + 1, m.modelCacheHits());
        // the same request after the trim gives the same bytes
        assertArrayEquals(
                fleet.store.getBytes(coldEnd.results().get(0).key()),
                fleet.store.getBytes(warmEnd.results().get(0).key()),
                "the output after a trim equals the output before it");
        // timings are printed, not asserted: this machine is shared
        System.out.printf(
                "time from dequeue to first denoising step: cold (load) %.1f ms, warm (cache hit) %.1f ms%n",
                coldFirstStep / 1e6, warmFirstStep / 1e6);
    }

    @Test
    void loraJobLeavesTheCachedBaseModelUnchanged() throws Exception {
        Path lora = writeLora(fleet.dir.resolve("lora.safetensors"));
        fleet.registry.register(
                ModelKind.LORA,
                "test-lora",
                ModelFormat.LORA_SAFETENSORS,
                List.of(LocalModelFile.of("test-lora.safetensors", lora)),
                Map.of());
        var request = FleetFixture.tinyRequest().outputFormats(List.of("frames"));
        float[] first = frames(run(request.build()));
        float[] withLora = frames(
                run(request.loras(List.of(new LoraSpec("test-lora", 1.0))).build()));
        float[] third = frames(run(request.loras(List.of()).build()));

        assertArrayEquals(first, third, "the base model's output changed after a LoRA job");
        double maxDiff = 0;
        for (int i = 0; i < first.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(first[i] - withLora[i]));
        }
        assertTrue(maxDiff > 1e-3, "the LoRA had no effect (max |diff| " + maxDiff + ")");
    }

    @Test
    void cancelMidJobEndsCancelledWithoutResults() throws Exception {
        GenerationJob job =
                fleet.submit(FleetFixture.tinyRequest().numInferenceSteps(150).build());
        fleet.awaitEvent(job.jobId(), JobEventType.PROGRESS, Duration.ofSeconds(60));
        fleet.cancel(job.jobId());
        List<JobEvent> events = fleet.awaitTerminal(job.jobId());
        JobEvent end = last(events);
        assertEquals(JobEventType.CANCELLED, end.type());
        assertEquals("w1", end.workerId());
        int lastStep = events.stream()
                .filter(e -> e.type() == JobEventType.PROGRESS)
                .mapToInt(e -> e.progress().step())
                .max()
                .orElseThrow();
        assertTrue(lastStep < 150, "the job ran to the end despite the cancel");
        assertEquals(List.of(), fleet.store.list(ResultUploader.prefix(job.jobId())));
    }

    @Test
    void jobCancelledWhileQueuedNeverRuns() throws Exception {
        GenerationJob job = GenerationJob.create(
                JobIds.newId(), Instant.now(), FleetFixture.tinyRequest().build());
        fleet.cancel(job.jobId());
        Thread.sleep(500); // the cancel listener polls every 200 ms
        fleet.produce(job);
        List<JobEvent> events = fleet.awaitTerminal(job.jobId());
        assertEquals(
                List.of(JobEventType.CANCELLED),
                events.stream().map(JobEvent::type).toList());
    }

    @Test
    void unknownModelFailsWithItsCodeAndGoesToTheDlq() throws Exception {
        GenerationJob job = fleet.submit(
                FleetFixture.tinyRequest().motionModule("no-such-module").build());
        List<JobEvent> events = fleet.awaitTerminal(job.jobId());
        JobEvent end = last(events);
        assertEquals(JobEventType.FAILED, end.type());
        assertEquals(FailureCode.MODEL_NOT_FOUND, end.failure().code());
        assertTrue(
                end.failure().reason().contains("motion_module"), end.failure().reason());
        assertTrue(
                end.failure().reason().contains("'no-such-module'"),
                end.failure().reason());
        assertTrue(events.stream().noneMatch(e -> e.type() == JobEventType.RUNNING), "never ran");

        ConsumerRecord<String, byte[]> dead =
                fleet.awaitDlq(job.jobId(), Duration.ofSeconds(10)).get(0);
        assertEquals(job, Json.read(dead.value(), GenerationJob.class));
        String header = header(dead, EventPublisher.FAILURE_HEADER);
        assertTrue(header.startsWith("MODEL_NOT_FOUND: "), header);
        assertEquals("1", header(dead, EventPublisher.ATTEMPT_HEADER));
    }

    @Test
    void invalidRequestFromTheQueueIsRefusedByTheWorker() throws Exception {
        // the gateway would refuse width 60; a producer that skipped it must not reach the engine
        GenerationJob job =
                fleet.submit(FleetFixture.tinyRequest().width(60).numFrames(40).build());
        JobEvent end = last(fleet.awaitTerminal(job.jobId()));
        assertEquals(FailureCode.INVALID_REQUEST, end.failure().code());
        assertTrue(end.failure().reason().contains("width"), end.failure().reason());
        assertTrue(end.failure().reason().contains("num_frames"), end.failure().reason());
        assertEquals(1, fleet.awaitDlq(job.jobId(), Duration.ofSeconds(10)).size());
    }

    @Test
    void poisonMessagesGoToTheDlqAndTheWorkerCarriesOn() throws Exception {
        String id = JobIds.newId();
        fleet.produceRaw(id, "{not json".getBytes(StandardCharsets.UTF_8));
        String noSeed = "{\"schema\":1,\"job_id\":\"" + JobIds.newId()
                + "\",\"submitted_at\":\"2025-01-01T00:00:00Z\",\"attempt\":1,\"request\":{\"prompt\":\"x\"}}";
        fleet.produceRaw("poison-no-seed", noSeed.getBytes(StandardCharsets.UTF_8));

        ConsumerRecord<String, byte[]> dead =
                fleet.awaitDlq(id, Duration.ofSeconds(30)).get(0);
        assertEquals("{not json", new String(dead.value(), StandardCharsets.UTF_8));
        assertTrue(header(dead, EventPublisher.FAILURE_HEADER).startsWith("INVALID_REQUEST: "));
        JobEvent failed = last(fleet.awaitTerminal(id));
        assertEquals(FailureCode.INVALID_REQUEST, failed.failure().code());
        String seedReason =
                header(fleet.awaitDlq("poison-no-seed", Duration.ofSeconds(30)).get(0), EventPublisher.FAILURE_HEADER);
        assertTrue(seedReason.contains("request.seed"), seedReason);

        GenerationJob after = fleet.submit(FleetFixture.tinyRequest().build());
        assertEquals(
                JobEventType.SUCCEEDED, last(fleet.awaitTerminal(after.jobId())).type());
    }

    @Test
    void redeliveredJobRewritesTheSameKeysAndTerminalEvent() throws Exception {
        GenerationJob job = fleet.submit(
                FleetFixture.tinyRequest().outputFormats(List.of("gif", "png")).build());
        List<JobEvent> first = fleet.awaitTerminal(job.jobId());
        fleet.produce(job); // the same message again, as after a crash before the commit
        List<JobEvent> all = fleet.awaitTerminal(job.jobId(), 2, Duration.ofSeconds(60));

        List<JobEvent> terminals = all.stream().filter(JobEvent::isTerminal).toList();
        assertEquals(2, terminals.size());
        assertEquals(JobEventType.SUCCEEDED, terminals.get(0).type());
        assertEquals(JobEventType.SUCCEEDED, terminals.get(1).type());
        assertEquals(1, terminals.get(1).attempt());
        // same keys, same bytes: the seed is fixed in the job
        assertEquals(terminals.get(0).results(), terminals.get(1).results());
        assertEquals(last(first).results(), terminals.get(1).results());
        assertEquals(
                terminals.get(0).results().size(),
                fleet.store.list(ResultUploader.prefix(job.jobId())).size());
        // what a client sees: RUNNING, PROGRESS.., SUCCEEDED, then the same again for attempt 1
        List<JobEventType> types = all.stream().map(JobEvent::type).toList();
        assertEquals(2, types.stream().filter(t -> t == JobEventType.RUNNING).count(), types.toString());
    }

    /**
     * A real storage outage while the results are written: S3Proxy is stopped once the job runs and
     * restarted a few seconds later. The worker says it waits for storage (a RUNNING event with
     * phase {@code waiting_for_storage}) and the job then succeeds once, with its results stored.
     */
    @Test
    void aStorageOutageDuringTheUploadIsReportedAndTheJobSucceedsOnce() throws Exception {
        Assumptions.assumeTrue(
                fleet.infra instanceof FleetFixture.InProcess, "stops the in-process S3Proxy: in-process fleet only");
        S3ProxyServer s3 = ((FleetFixture.InProcess) fleet.infra).s3();
        // 1. the models in the worker's memory (any earlier job on them did it; this one makes sure)
        GenerationJob warm = fleet.submit(FleetFixture.tinyRequest().build());
        assertEquals(
                JobEventType.SUCCEEDED, last(fleet.awaitTerminal(warm.jobId())).type());

        // 2. storage goes down while the job denoises, and comes back a few seconds later
        GenerationJob job = fleet.submit(FleetFixture.tinyRequest()
                .numInferenceSteps(60)
                .seed(Seed.of(7))
                .build());
        fleet.awaitEvent(job.jobId(), JobEventType.RUNNING, Duration.ofSeconds(60));
        JobEvent waiting;
        s3.stop();
        try {
            long down = System.nanoTime();
            waiting = awaitWaitingForStorage(job.jobId(), Duration.ofSeconds(60));
            long left = Duration.ofSeconds(3).toNanos() - (System.nanoTime() - down);
            if (left > 0) {
                Thread.sleep(left / 1_000_000);
            }
            assertTrue(
                    fleet.events(job.jobId()).stream().noneMatch(JobEvent::isTerminal),
                    "the job ended while storage was down");
        } finally {
            s3.restart();
        }

        // 3. the waiting event: RUNNING, same attempt and worker, says what it waits for and the next retry
        String prefix = ResultUploader.prefix(job.jobId());
        assertEquals(JobEventType.RUNNING, waiting.type());
        assertEquals(1, waiting.attempt());
        assertEquals("w1", waiting.workerId());
        assertTrue(
                waiting.message().startsWith("waiting for storage: writing " + prefix + "animation.gif failed"),
                waiting.message());
        assertTrue(waiting.message().contains("next retry in "), waiting.message());

        // 4. one terminal event, SUCCEEDED in the same attempt, with exactly the stored results
        fleet.awaitTerminal(job.jobId());
        Thread.sleep(500); // a duplicate terminal event would show up by now
        List<JobEvent> events = fleet.events(job.jobId());
        List<JobEvent> terminal = events.stream().filter(JobEvent::isTerminal).toList();
        assertEquals(
                1,
                terminal.size(),
                events.stream().map(e -> e.type() + "/" + e.attempt()).toList().toString());
        JobEvent done = terminal.get(0);
        assertEquals(JobEventType.SUCCEEDED, done.type());
        assertTrue(events.stream().allMatch(e -> e.attempt() == 1), "the outage used up an attempt");
        assertTrue(events.indexOf(waiting) < events.indexOf(done), "the waiting event came after the terminal one");
        assertEquals(
                List.of(prefix + "animation.gif"),
                done.results().stream().map(ResultObject::key).toList());
        assertEquals(1, fleet.store.list(prefix).size());
        assertEquals(
                done.results().get(0).sha256(),
                io.animatediff.common.store.Sha256.hex(fleet.store.getBytes(prefix + "animation.gif")));
    }

    private JobEvent awaitWaitingForStorage(String jobId, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (JobEvent e : fleet.events(jobId)) {
                if (JobEvent.PHASE_WAITING_FOR_STORAGE.equals(e.phase())) {
                    return e;
                }
                if (e.isTerminal()) {
                    throw new AssertionError("job " + jobId + " ended (" + e.type()
                            + ") before it found storage down: the job was too short for the test");
                }
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("no waiting_for_storage event of job " + jobId + " within " + timeout);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void healthReadyAndMetricsAreServed() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + worker.healthPort();
        assertEquals(200, get(http, base + "/live").statusCode());
        assertEquals(200, get(http, base + "/ready").statusCode());
        HttpResponse<String> metrics = get(http, base + "/metrics");
        assertEquals(200, metrics.statusCode());
        assertTrue(metrics.body().contains("# TYPE animatediff_worker_model_cache_hits_total counter"));
        assertTrue(metrics.body().contains("animatediff_worker_ready 1"));
        assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
    }

    // ------------------------------------------------------------------ helpers

    private float[] frames(List<JobEvent> events) throws Exception {
        JobEvent end = last(events);
        assertEquals(JobEventType.SUCCEEDED, end.type(), String.valueOf(end.failure()));
        ResultObject r = end.results().get(0);
        assertEquals("frames", r.format());
        Path file = Files.createTempFile(fleet.dir, "frames", ".safetensors");
        Files.write(file, fleet.store.getBytes(r.key()));
        try (SafetensorsFile f = SafetensorsFile.open(file);
                NDManager m = NDManager.newBaseManager()) {
            NDArray a = f.load("frames", m, ai.djl.ndarray.types.DataType.FLOAT32);
            assertEquals(new ai.djl.ndarray.types.Shape(4, 3, 64, 64), a.getShape());
            return a.toFloatArray();
        }
    }

    private List<JobEvent> run(io.animatediff.common.protocol.GenerationRequest request) throws Exception {
        return fleet.awaitTerminal(fleet.submit(request).jobId());
    }

    /** A PEFT LoRA on every attn1.to_q of the built-in UNet, rank 2, seeded. */
    private Path writeLora(Path out) throws Exception {
        Path dir = fleet.dir.resolve("builtin");
        try (AnimateDiffModel model = ModelLoader.load(
                        dir.resolve("base"),
                        dir.resolve(BuiltinModels.MOTION_FILE),
                        io.animatediff.engine.config.MotionModuleConfig.MotionNorm.OFFICIAL,
                        List.of());
                NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(7);
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, Param> e : model.unet().namedTensors().entrySet()) {
                String k = e.getKey();
                if (k.endsWith(".attn1.to_q.weight") && !k.contains("motion_modules")) {
                    long cout = e.getValue().shape().get(0);
                    long cin = e.getValue().shape().get(1);
                    String module = "unet." + k.substring(0, k.length() - ".weight".length());
                    tensors.put(module + ".lora_A.weight", m.randomNormal(new ai.djl.ndarray.types.Shape(2, cin)));
                    tensors.put(
                            module + ".lora_B.weight",
                            m.randomNormal(new ai.djl.ndarray.types.Shape(cout, 2))
                                    .mul(0.5));
                }
            }
            assertFalse(tensors.isEmpty(), "the built-in UNet has no attn1.to_q weights");
            SafetensorsWriter.write(out, tensors, Map.of("format", "pt"));
        }
        return out;
    }

    private static int gifFrames(byte[] gif) throws Exception {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(gif))) {
            ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
            reader.setInput(in);
            int n = reader.getNumImages(true);
            reader.dispose();
            return n;
        }
    }

    private static JobEvent last(List<JobEvent> events) {
        return events.get(events.size() - 1);
    }

    private static String header(ConsumerRecord<String, byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        assertNotNull(h, "header " + name);
        return new String(h.value(), StandardCharsets.UTF_8);
    }

    private static HttpResponse<String> get(HttpClient http, String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
