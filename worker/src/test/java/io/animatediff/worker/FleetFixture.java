package io.animatediff.worker;

import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.CancelRequest;
import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.protocol.Seed;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.S3ProxyServer;
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
import java.util.function.UnaryOperator;
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

/**
 * A real fleet minus the gateway, in-process: a KRaft broker (KafkaClusterTestKit), an S3 server
 * (S3Proxy) with the built-in model registered, a producer acting as the gateway, and readers of
 * the job-events and DLQ topics. Workers are started per test with {@link #startWorker}.
 */
final class FleetFixture implements AutoCloseable {
    static final String BUCKET = "animatediff";
    static final int PARTITIONS = 3;

    final Infrastructure infra;
    final ObjectStore store;
    final ModelRegistry registry;
    final Path dir;
    private final KafkaProducer<String, byte[]> producer;
    private final TopicReader events;
    private final TopicReader dlq;
    private final List<Worker> workers = new CopyOnWriteArrayList<>();

    /** A broker and an S3 server the fleet runs on: in-process here, containers where Docker runs. */
    interface Infrastructure extends AutoCloseable {
        String bootstrapServers();

        /** A store on {@code bucket}, bucket created. */
        ObjectStore newStore(String bucket);
    }

    /** The in-process KRaft broker (Kafka's test kit) and S3Proxy. */
    static final class InProcess implements Infrastructure {
        private final KafkaClusterTestKit kafka;
        private final S3ProxyServer s3;

        InProcess() throws Exception {
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
            s3 = S3ProxyServer.startInMemory();
        }

        /** The S3 server, e.g. to stop and restart it (a storage outage). */
        S3ProxyServer s3() {
            return s3;
        }

        @Override
        public String bootstrapServers() {
            return kafka.bootstrapServers();
        }

        @Override
        public ObjectStore newStore(String bucket) {
            return s3.newStore(bucket);
        }

        @Override
        public void close() throws Exception {
            s3.close();
            kafka.close();
        }
    }

    FleetFixture() throws Exception {
        this(new InProcess());
    }

    FleetFixture(Infrastructure infra) throws Exception {
        this.infra = infra;
        dir = Files.createTempDirectory("worker-test");
        TopicSetup.ensure(infra.bootstrapServers(), PARTITIONS, (short) 1, Duration.ofSeconds(30));
        store = infra.newStore(BUCKET);
        registry = new ModelRegistry(store);
        BuiltinModels.register(registry, dir.resolve("builtin"));
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, infra.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        events = new TopicReader(infra.bootstrapServers(), Topics.JOB_EVENTS);
        dlq = new TopicReader(infra.bootstrapServers(), Topics.GENERATE_DLQ);
    }

    /** A worker on this fleet: own cache folder, no health port unless asked, fast retries. */
    Worker startWorker(String id, UnaryOperator<WorkerConfig.Builder> tune) throws Exception {
        return startWorker(id, tune, infra.newStore(BUCKET));
    }

    /** A worker on this broker with another object store (e.g. one that is down). */
    Worker startWorker(String id, UnaryOperator<WorkerConfig.Builder> tune, ObjectStore workerStore) throws Exception {
        WorkerConfig base = WorkerConfig.defaults(
                        infra.bootstrapServers(), workerStore.config(), Files.createTempDirectory(dir, id + "-cache"))
                .toBuilder()
                .workerId(id)
                .healthPort(-1)
                .topicPartitions(PARTITIONS)
                .retryBackoff(Duration.ofMillis(50))
                .progressInterval(Duration.ZERO)
                .build();
        Worker w = Worker.start(tune.apply(base.toBuilder()).build(), workerStore, true);
        workers.add(w);
        return w;
    }

    /** A small valid request on the built-in model: 64x64, 4 frames, 2 steps, GIF. */
    static GenerationRequest.Builder tinyRequest() {
        return GenerationRequest.builder()
                .prompt("a red circle moving left")
                .baseModel(BuiltinModels.NAME)
                .motionModule(BuiltinModels.NAME)
                .numFrames(4)
                .width(64)
                .height(64)
                .numInferenceSteps(2)
                .guidanceScale(7.5)
                .seed(Seed.of(42))
                .outputFormats(List.of("gif"))
                .fps(8);
    }

    /** Publishes QUEUED then the job, as the gateway does; returns the job. */
    GenerationJob submit(GenerationRequest request) throws Exception {
        GenerationJob job = GenerationJob.create(JobIds.newId(), Instant.now(), request);
        queued(job);
        produce(job);
        return job;
    }

    void queued(GenerationJob job) throws Exception {
        producer.send(new ProducerRecord<>(
                        Topics.JOB_EVENTS,
                        job.jobId(),
                        Json.writeBytes(JobEvent.queued(job.jobId(), Instant.now(), 1))))
                .get();
    }

    void produce(GenerationJob job) throws Exception {
        produceRaw(job.jobId(), Json.writeBytes(job));
    }

    /** Publishes QUEUED then the job into one partition of the generate topic (ordering tests). */
    GenerationJob submitTo(int partition, GenerationRequest request) throws Exception {
        GenerationJob job = GenerationJob.create(JobIds.newId(), Instant.now(), request);
        queued(job);
        producer.send(new ProducerRecord<>(Topics.GENERATE, partition, job.jobId(), Json.writeBytes(job)))
                .get();
        return job;
    }

    void produceRaw(String key, byte[] value) throws Exception {
        producer.send(new ProducerRecord<>(Topics.GENERATE, key, value)).get();
    }

    void cancel(String jobId) throws Exception {
        producer.send(new ProducerRecord<>(
                        Topics.CANCEL, jobId, Json.writeBytes(CancelRequest.of(jobId, Instant.now(), "test"))))
                .get();
    }

    /** Every event of a job so far, in topic order. */
    List<JobEvent> events(String jobId) {
        List<JobEvent> out = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : events.records(jobId)) {
            out.add(Json.read(r.value(), JobEvent.class));
        }
        return out;
    }

    /** Waits for the job's {@code n}-th terminal event (1 = the first) and returns all its events. */
    List<JobEvent> awaitTerminal(String jobId, int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<JobEvent> e = events(jobId);
            if (e.stream().filter(JobEvent::isTerminal).count() >= n) {
                return e;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("job " + jobId + " did not reach " + n + " terminal event(s) within " + timeout
                        + "; events: "
                        + e.stream().map(x -> x.type() + "/" + x.attempt()).toList());
            }
            Thread.sleep(20);
        }
    }

    List<JobEvent> awaitTerminal(String jobId) throws InterruptedException {
        return awaitTerminal(jobId, 1, Duration.ofSeconds(60));
    }

    /** Waits for a job event matching type. */
    void awaitEvent(String jobId, io.animatediff.common.protocol.JobEventType type, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (events(jobId).stream().noneMatch(e -> e.type() == type)) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("job " + jobId + " had no " + type + " event within " + timeout);
            }
            Thread.sleep(10);
        }
    }

    /** DLQ records of a key. */
    List<ConsumerRecord<String, byte[]>> dlq(String key) {
        return dlq.records(key);
    }

    List<ConsumerRecord<String, byte[]>> awaitDlq(String key, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (dlq.records(key).isEmpty()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("no DLQ record for " + key + " within " + timeout);
            }
            Thread.sleep(20);
        }
        return dlq.records(key);
    }

    @Override
    public void close() throws Exception {
        for (Worker w : workers) {
            w.close();
        }
        events.close();
        dlq.close();
        producer.close();
        store.close();
        infra.close();
        ModelDiskCache.deleteTree(dir);
    }

    /** Reads a whole topic from the beginning on a background thread, by key. */
    static final class TopicReader implements AutoCloseable {
        private final KafkaConsumer<String, byte[]> consumer;
        private final Map<String, List<ConsumerRecord<String, byte[]>>> byKey = new ConcurrentHashMap<>();
        private final Thread thread;
        private volatile boolean stopping;

        TopicReader(String bootstrap, String topic) {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo i : consumer.partitionsFor(topic)) {
                parts.add(new TopicPartition(topic, i.partition()));
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            thread = new Thread(this::loop, "test-reader-" + topic);
            thread.setDaemon(true);
            thread.start();
        }

        private void loop() {
            try {
                while (!stopping) {
                    for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(50))) {
                        byKey.computeIfAbsent(String.valueOf(r.key()), k -> new CopyOnWriteArrayList<>())
                                .add(r);
                    }
                }
            } catch (WakeupException e) {
                // closing
            } finally {
                consumer.close();
            }
        }

        List<ConsumerRecord<String, byte[]>> records(String key) {
            return List.copyOf(byKey.getOrDefault(key, List.of()));
        }

        @Override
        public void close() throws InterruptedException {
            stopping = true;
            consumer.wakeup();
            thread.join(5000);
        }
    }
}
