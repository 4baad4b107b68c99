package io.animatediff.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.Seed;
import io.animatediff.common.protocol.TrainingJob;
import io.animatediff.common.protocol.TrainingRequest;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.ObjectSummary;
import io.animatediff.common.store.S3ProxyServer;
import io.animatediff.engine.training.SyntheticClips;
import io.animatediff.engine.training.TrainingCheckpoint;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import io.animatediff.worker.BuiltinModels;
import io.animatediff.worker.Worker;
import io.animatediff.worker.WorkerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The trainer on a real broker (KRaft, in-process) and a real S3-protocol server (S3Proxy): a
 * dataset uploaded under a prefix, a training job published as the gateway does, checkpoints and
 * the registered module in S3, a worker generating with the module by name, and a job that resumes
 * from a checkpoint copied into its prefix (a partial newer one passed over) ending with the same
 * weights as the run that never stopped.
 */
class TrainerEndToEndTest {
    static final String BUCKET = "animatediff";
    static final String DATASET = "datasets/tiny/";

    static KafkaClusterTestKit kafka;
    static S3ProxyServer s3;
    static ObjectStore store;
    static ModelRegistry registry;
    static Path dir;
    static KafkaProducer<String, byte[]> producer;
    static EventReader events;
    static Trainer trainer;

    @BeforeAll
    static void fleet() throws Exception {
        dir = Files.createTempDirectory("trainer-test");
        kafka = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                        .setCombined(true)
                        .setNumBrokerNodes(1)
                        .setNumControllerNodes(1)
                        .build())
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("offsets.topic.num.partitions", "1")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .build();
        kafka.format();
        kafka.startup();
        kafka.waitForReadyBrokers();
        Trainer.ensureTopics(kafka.bootstrapServers(), 2, Duration.ofSeconds(30));
        s3 = S3ProxyServer.startInMemory();
        store = s3.newStore(BUCKET);
        store.ensureBucket();
        registry = new ModelRegistry(store);
        BuiltinModels.register(registry, dir.resolve("builtin"));
        // the dataset: 3 clips of 6 frames at 64 px, one line naming a missing video (skipped, counted)
        Path data = dir.resolve("data");
        SyntheticClips.write(data, 3, 6, 64, 11);
        Files.writeString(
                data.resolve("clips.jsonl"),
                "{\"video\": \"missing.gif\", \"caption\": \"a red circle moving left\"}\n",
                java.nio.file.StandardOpenOption.APPEND);
        try (Stream<Path> walk = Files.walk(data)) {
            for (Path f : walk.filter(Files::isRegularFile).toList()) {
                store.put(DATASET + data.relativize(f).toString().replace('\\', '/'), f);
            }
        }
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        events = new EventReader(kafka.bootstrapServers());
        TrainerConfig config = TrainerConfig.defaults(kafka.bootstrapServers(), store.config(), dir.resolve("work"))
                .withIdAndWorkDir("trainer-test", dir.resolve("work"))
                .withValidateEvery(1000);
        trainer = Trainer.start(config, s3.newStore(BUCKET), true);
    }

    @AfterAll
    static void stop() throws Exception {
        if (trainer != null) {
            trainer.close();
        }
        if (events != null) {
            events.close();
        }
        if (producer != null) {
            producer.close();
        }
        if (store != null) {
            store.close();
        }
        if (s3 != null) {
            s3.close();
        }
        if (kafka != null) {
            kafka.close();
        }
        S3Checkpoints.deleteTree(dir);
    }

    static TrainingRequest request(String outputName, int steps) {
        return new TrainingRequest(
                "motion",
                "s3://" + BUCKET + "/" + DATASET,
                BuiltinModels.NAME,
                BuiltinModels.NAME,
                outputName,
                steps,
                1,
                1e-3,
                1e-2,
                1.0,
                4,
                1,
                64,
                0.1,
                8,
                2,
                Seed.of(7));
    }

    static TrainingJob submit(String id, TrainingRequest r) throws Exception {
        TrainingJob job = TrainingJob.create(id, Instant.now(), r);
        producer.send(new ProducerRecord<>(
                        Topics.JOB_EVENTS, id, Json.writeBytes(JobEvent.queued(id, Instant.now(), 1))))
                .get();
        producer.send(new ProducerRecord<>(Topics.TRAIN, id, Json.writeBytes(job)))
                .get();
        return job;
    }

    @Test
    void trainsChecksRegistersGeneratesAndResumes() throws Exception {
        // 1. train 4 steps, checkpoints every 2
        String a = JobIds.newId();
        submit(a, request("trained-a", 4));
        List<JobEvent> ea = events.awaitTerminal(a, Duration.ofSeconds(120));
        JobEvent last = ea.get(ea.size() - 1);
        assertEquals(JobEventType.SUCCEEDED, last.type(), "events: " + ea);
        List<JobEvent> progress =
                ea.stream().filter(e -> e.type() == JobEventType.PROGRESS).toList();
        assertFalse(progress.isEmpty(), "PROGRESS events expected: " + ea);
        JobEvent lastProgress = progress.get(progress.size() - 1);
        assertEquals(4, lastProgress.progress().step());
        assertTrue(lastProgress.progress().loss() > 0, "loss in the progress event: " + lastProgress);
        assertTrue(lastProgress.progress().samplesPerSecond() > 0, "samples/s: " + lastProgress);
        S3Checkpoints ca = new S3Checkpoints(store, a);
        for (int step : new int[] {2, 4}) {
            assertTrue(store.exists(ca.stepPrefix(step) + TrainingCheckpoint.COMPLETE), "marker of step " + step);
            assertTrue(store.exists(ca.stepPrefix(step) + TrainingCheckpoint.MOTION_MODULE));
        }
        assertTrue(
                store.list(ca.prefix() + "samples/step-4/").stream()
                        .anyMatch(o -> o.key().endsWith(".gif")),
                "validation GIF beside the checkpoints");
        ModelManifest trained = registry.get(ModelKind.MOTION, "trained-a");
        assertEquals(
                store.computeSha256(ca.stepPrefix(4) + TrainingCheckpoint.MOTION_MODULE),
                trained.files().get(0).sha256(),
                "the registered module is the last checkpoint's weights");
        assertTrue(last.results().stream()
                .anyMatch(r -> r.key()
                        .equals(ModelRegistry.fileKey(
                                ModelKind.MOTION, "trained-a", TrainingCheckpoint.MOTION_MODULE))));

        // 2. a worker generates with the trained module by name
        generate(GenerationRequest.builder().motionModule("trained-a"));

        // 3. checkpoints in S3: a partial newer one (no marker) and a corrupt one are passed over
        store.put(ca.stepPrefix(9) + TrainingCheckpoint.MOTION_MODULE, "half".getBytes(StandardCharsets.UTF_8));
        store.put(ca.stepPrefix(8) + TrainingCheckpoint.COMPLETE, store.getBytes(ca.stepPrefix(4) + "COMPLETE"));
        for (ObjectSummary o : store.list(ca.stepPrefix(4))) {
            String name = o.key().substring(ca.stepPrefix(4).length());
            if (!name.equals(TrainingCheckpoint.COMPLETE)) {
                store.put(ca.stepPrefix(8) + name, store.getBytes(o.key()));
            }
        }
        List<String> messages = new CopyOnWriteArrayList<>();
        Path restored = dir.resolve("restore");
        assertEquals(
                4L,
                new S3Checkpoints(store, a)
                        .restoreNewest(restored, messages::add)
                        .orElseThrow());
        assertTrue(
                messages.stream().anyMatch(m -> m.contains("step-9") && m.contains("no COMPLETE marker")),
                "partial checkpoint reported: " + messages);
        assertTrue(messages.stream().anyMatch(m -> m.contains("step-8")), "corrupt checkpoint reported: " + messages);

        // 4. resume: job b finds a's step-2 checkpoint (and a partial step-3) in its prefix, trains 2 -> 4
        String b = JobIds.newId();
        S3Checkpoints cb = new S3Checkpoints(store, b);
        for (ObjectSummary o : store.list(ca.stepPrefix(2))) {
            store.put(cb.stepPrefix(2) + o.key().substring(ca.stepPrefix(2).length()), store.getBytes(o.key()));
        }
        store.put(cb.stepPrefix(3) + TrainingCheckpoint.STATE, "{".getBytes(StandardCharsets.UTF_8));
        submit(b, request("trained-b", 4));
        List<JobEvent> eb = events.awaitTerminal(b, Duration.ofSeconds(120));
        assertEquals(JobEventType.SUCCEEDED, eb.get(eb.size() - 1).type(), "events: " + eb);
        int firstStep = eb.stream()
                .filter(e -> e.type() == JobEventType.PROGRESS)
                .findFirst()
                .orElseThrow()
                .progress()
                .step();
        assertEquals(3, firstStep, "resumed after step 2: " + eb);
        assertSameWeights(
                download(ModelRegistry.fileKey(ModelKind.MOTION, "trained-a", TrainingCheckpoint.MOTION_MODULE)),
                download(ModelRegistry.fileKey(ModelKind.MOTION, "trained-b", TrainingCheckpoint.MOTION_MODULE)));
    }

    /** An owner tag as the gateway derives it from an API key (16 hex digits). */
    private static final String OWNER = "0123456789abcdef";

    @Test
    void aMotionLoraIsTrainedRegisteredAndUsedByName() throws Exception {
        // as the gateway submits it: the id ends in the submitting key's owner tag
        String id = JobIds.newId() + "-o" + OWNER;
        TrainingRequest lora = loraRequest("cam-pan");
        submit(id, lora);
        List<JobEvent> e = events.awaitTerminal(id, Duration.ofSeconds(120));
        assertEquals(JobEventType.SUCCEEDED, e.get(e.size() - 1).type(), "events: " + e);
        ModelManifest m = registry.get(ModelKind.MOTION_LORA, "cam-pan");
        assertEquals(TrainingCheckpoint.MOTION_LORA, m.files().get(0).path());
        assertEquals(OWNER, m.owner(), "the trained model belongs to the submitting key");
        // another key training to the same name fails before training, and the model stays
        String other = JobIds.newId() + "-o" + "fedcba9876543210";
        submit(other, lora);
        List<JobEvent> refused = events.awaitTerminal(other, Duration.ofSeconds(60));
        JobEvent last = refused.get(refused.size() - 1);
        assertEquals(JobEventType.FAILED, last.type(), "events: " + refused);
        assertTrue(String.valueOf(last).contains("another API key"), "reason: " + last);
        assertEquals(m, registry.get(ModelKind.MOTION_LORA, "cam-pan"), "the owner's model is untouched");
        generate(GenerationRequest.builder()
                .motionModule(BuiltinModels.NAME)
                .motionLoras(List.of(new io.animatediff.common.protocol.LoraSpec("cam-pan", 1.0))));
    }

    /** A rank-2 MotionLoRA on the built-in motion module, 2 steps, written as {@code outputName}. */
    static TrainingRequest loraRequest(String outputName) {
        TrainingRequest r = request(outputName, 2);
        return new TrainingRequest(
                "motion-lora",
                r.datasetUri(),
                r.baseModel(),
                r.motionModule(),
                r.outputName(),
                2,
                1,
                1e-3,
                1e-2,
                1.0,
                4,
                1,
                64,
                0.1,
                2,
                2,
                Seed.of(3));
    }

    /** Runs one tiny generation on a worker of this fleet and expects SUCCEEDED. */
    static void generate(GenerationRequest.Builder b) throws Exception {
        WorkerConfig wc =
                WorkerConfig.defaults(kafka.bootstrapServers(), store.config(), Files.createTempDirectory(dir, "cache"))
                        .toBuilder()
                        .workerId("worker-test")
                        .healthPort(-1)
                        .topicPartitions(2)
                        .warmup(false)
                        .build();
        try (Worker worker = Worker.start(wc, s3.newStore(BUCKET), true)) {
            GenerationRequest g = b.prompt("a red circle moving left")
                    .baseModel(BuiltinModels.NAME)
                    .numFrames(4)
                    .width(64)
                    .height(64)
                    .numInferenceSteps(2)
                    .guidanceScale(7.5)
                    .seed(Seed.of(42))
                    .outputFormats(List.of("gif"))
                    .fps(8)
                    .build();
            GenerationJob gj = GenerationJob.create(JobIds.newId(), Instant.now(), g);
            producer.send(new ProducerRecord<>(Topics.GENERATE, gj.jobId(), Json.writeBytes(gj)))
                    .get();
            List<JobEvent> eg = events.awaitTerminal(gj.jobId(), Duration.ofSeconds(60));
            assertEquals(JobEventType.SUCCEEDED, eg.get(eg.size() - 1).type(), "generation events: " + eg);
        }
    }

    @Test
    void aCancelStopsTheRunBetweenStepsAndRegistersNothing() throws Exception {
        String id = JobIds.newId();
        submit(id, request("never-registered", 10_000));
        events.awaitType(id, JobEventType.PROGRESS, Duration.ofSeconds(120));
        producer.send(new ProducerRecord<>(
                        Topics.CANCEL,
                        id,
                        Json.writeBytes(io.animatediff.common.protocol.CancelRequest.of(id, Instant.now(), "test"))))
                .get();
        List<JobEvent> e = events.awaitTerminal(id, Duration.ofSeconds(60));
        assertEquals(JobEventType.CANCELLED, e.get(e.size() - 1).type(), "events: " + e);
        assertFalse(registry.exists(ModelKind.MOTION, "never-registered"));
    }

    static Path download(String key) throws Exception {
        Path f = Files.createTempFile(dir, "weights", ".safetensors");
        Files.write(f, store.getBytes(key));
        return f;
    }

    /** Every tensor equal within |a-b| <= 1e-6 + 1e-5 |b|. */
    static void assertSameWeights(Path a, Path b) throws Exception {
        try (TensorSource sa = TensorSources.open(a);
                TensorSource sb = TensorSources.open(b);
                NDManager m = NDManager.newBaseManager()) {
            assertEquals(sa.keys(), sb.keys());
            int compared = 0;
            for (String k : sa.keys()) {
                float[] x = sa.load(k, m).toFloatArray();
                float[] y = sb.load(k, m).toFloatArray();
                assertEquals(x.length, y.length, k);
                for (int i = 0; i < x.length; i++) {
                    double tol = 1e-6 + 1e-5 * Math.abs(y[i]);
                    if (Math.abs(x[i] - y[i]) > tol) {
                        throw new AssertionError(k + "[" + i + "]: " + x[i] + " vs " + y[i]);
                    }
                    compared++;
                }
            }
            assertTrue(compared > 1000, "compared " + compared + " values");
        }
    }

    /** Reads job-events from the beginning, by key. */
    static final class EventReader implements AutoCloseable {
        private final KafkaConsumer<String, byte[]> consumer;
        private final Map<String, List<JobEvent>> byKey = new ConcurrentHashMap<>();
        private final Thread thread;
        private volatile boolean stopping;

        EventReader(String bootstrap) {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo i : consumer.partitionsFor(Topics.JOB_EVENTS)) {
                parts.add(new TopicPartition(Topics.JOB_EVENTS, i.partition()));
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            thread = new Thread(this::loop, "test-events");
            thread.setDaemon(true);
            thread.start();
        }

        private void loop() {
            try {
                while (!stopping) {
                    for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(50))) {
                        byKey.computeIfAbsent(r.key(), k -> new CopyOnWriteArrayList<>())
                                .add(Json.read(r.value(), JobEvent.class));
                    }
                }
            } catch (WakeupException e) {
                // closing
            } finally {
                consumer.close();
            }
        }

        void awaitType(String id, JobEventType type, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (byKey.getOrDefault(id, List.of()).stream().noneMatch(x -> x.type() == type)) {
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("job " + id + " had no " + type + " within " + timeout);
                }
                Thread.sleep(20);
            }
        }

        List<JobEvent> awaitAny(String id) throws InterruptedException {
            awaitType(id, JobEventType.RUNNING, Duration.ofSeconds(30));
            return List.copyOf(byKey.get(id));
        }

        List<JobEvent> awaitTerminal(String id, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                List<JobEvent> e = List.copyOf(byKey.getOrDefault(id, List.of()));
                if (e.stream().anyMatch(JobEvent::isTerminal)) {
                    return e;
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("job " + id + " not done within " + timeout + ": " + e);
                }
                Thread.sleep(50);
            }
        }

        @Override
        public void close() throws InterruptedException {
            stopping = true;
            consumer.wakeup();
            thread.join(5000);
        }
    }
}
