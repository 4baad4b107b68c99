package io.animatediff.local;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.Topics;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.ModelFile;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.Sha256;
import io.animatediff.worker.BuiltinModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker and S3Proxy started as child processes by LocalMode's own code: a real Kafka
 * producer/consumer round trip, a real MinIO put/get, the built-in models registered, and no child
 * process left once stopped.
 */
class LocalInfrastructureTest {
    @TempDir
    Path state;

    @Test
    void brokerAndS3ProxyServeRealClientsAndStopWithoutOrphans() throws Exception {
        List<Long> pids = new ArrayList<>();
        try (LocalMode mode = LocalMode.start(TestLayouts.settings(state, false), System.out)) {
            assertEquals(2, mode.processes().size(), "kafka and s3proxy processes");
            mode.processes().forEach(p -> pids.add(p.pid()));
            assertTrue(Files.isRegularFile(state.resolve("logs/kafka.log")));
            assertTrue(Files.isRegularFile(state.resolve("logs/s3proxy.log")));
            assertTrue(mode.kafkaBootstrap().startsWith("127.0.0.1:"), mode.kafkaBootstrap());

            kafkaRoundTrip(mode.kafkaBootstrap());
            fleetTopicsExist(mode.kafkaBootstrap());
            minioPutGet(mode);
            builtinModelsRegister(mode);
        }
        for (long pid : pids) {
            assertFalse(
                    ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
                    "child " + pid + " still alive after close");
        }
        List<ProcessHandle> alive = TestLayouts.aliveDescendants(Duration.ofSeconds(5));
        assertTrue(alive.isEmpty(), "child processes left: " + TestLayouts.describe(alive));
    }

    private static void kafkaRoundTrip(String bootstrap) {
        String topic = "local-mode-test";
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        List<String> sent = List.of("a", "b", "c");
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            for (String v : sent) {
                producer.send(new ProducerRecord<>(topic, "job-1", v)).get();
            }
        } catch (Exception e) {
            throw new AssertionError("producing to " + bootstrap + " failed: " + e, e);
        }
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, "local-mode-test-" + UUID.randomUUID());
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<String> received = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (received.size() < sent.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    assertEquals("job-1", r.key());
                    received.add(r.value());
                }
            }
        }
        assertEquals(sent, received, "records consumed from " + topic);
    }

    private static void fleetTopicsExist(String bootstrap) throws Exception {
        try (Admin admin = Admin.create(KafkaProcess.adminConfig(bootstrap))) {
            Set<String> names = admin.listTopics().names().get();
            assertTrue(
                    names.containsAll(Set.of(Topics.GENERATE, Topics.JOB_EVENTS, Topics.CANCEL, Topics.GENERATE_DLQ)),
                    "topics " + names);
            TopicDescription generate = admin.describeTopics(List.of(Topics.GENERATE))
                    .allTopicNames()
                    .get()
                    .get(Topics.GENERATE);
            assertEquals(KafkaProcess.PARTITIONS, generate.partitions().size());
            String policy = admin.describeConfigs(List.of(new org.apache.kafka.common.config.ConfigResource(
                            org.apache.kafka.common.config.ConfigResource.Type.TOPIC, Topics.JOB_EVENTS)))
                    .all()
                    .get()
                    .values()
                    .iterator()
                    .next()
                    .get("cleanup.policy")
                    .value();
            assertEquals("compact", policy);
        }
    }

    private static void minioPutGet(LocalMode mode) throws Exception {
        byte[] data = "hello from local mode".getBytes(StandardCharsets.UTF_8);
        try (ObjectStore store = new ObjectStore(mode.store())) {
            String sha = store.put("tests/hello.txt", data).sha256();
            assertEquals(Sha256.hex(data), sha);
            assertArrayEquals(data, store.getBytes("tests/hello.txt"));
        }
        // the bucket lives in the local folder
        assertTrue(Files.isDirectory(
                mode.settings().layout().s3Dir().resolve(mode.store().bucket())));
    }

    private static void builtinModelsRegister(LocalMode mode) throws Exception {
        try (ObjectStore store = new ObjectStore(mode.store())) {
            ModelRegistry registry = new ModelRegistry(store);
            Path dir = mode.settings().layout().builtinDir();
            BuiltinModels.register(registry, dir);
            ModelManifest base = registry.get(ModelKind.BASE, BuiltinModels.NAME);
            ModelManifest motion = registry.get(ModelKind.MOTION, BuiltinModels.NAME);
            Set<String> paths = base.files().stream().map(ModelFile::path).collect(Collectors.toSet());
            assertTrue(
                    paths.containsAll(Set.of(
                            "model_index.json",
                            "unet/config.json",
                            "unet/diffusion_pytorch_model.safetensors",
                            "vae/diffusion_pytorch_model.safetensors",
                            "text_encoder/model.safetensors")),
                    "base files " + paths);
            assertEquals(
                    List.of("motion.safetensors"),
                    motion.files().stream().map(ModelFile::path).toList());
            assertNotNull(motion.config().get(ModelManifest.CONFIG_MAX_FRAMES));
            // idempotent: registering again keeps the same manifest
            BuiltinModels.register(registry, dir);
            assertEquals(
                    base.createdAt(),
                    registry.get(ModelKind.BASE, BuiltinModels.NAME).createdAt());
        }
    }
}
