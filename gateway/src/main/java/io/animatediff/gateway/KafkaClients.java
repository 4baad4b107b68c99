package io.animatediff.gateway;

import io.animatediff.common.Topics;
import io.animatediff.common.trace.JobContext;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** The gateway's Kafka clients, configured once: producer, state-view consumer, topic creation. */
public final class KafkaClients {
    private KafkaClients() {}

    /**
     * acks=all, idempotent: a job is accepted only once every in-sync replica has it. {@code
     * linger.ms} 5: under load the records of concurrent submissions share one produce request (fewer
     * requests, less CPU on the gateway and the broker) for at most 5 ms more latency; records are
     * small JSON, sent uncompressed.
     */
    public static KafkaProducer<String, byte[]> producer(String bootstrapServers) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "gateway-" + UUID.randomUUID());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    /** A {@link JobPublisher} over a producer. */
    public static JobPublisher publisher(Producer<String, byte[]> producer) {
        return (topic, key, value) -> {
            CompletableFuture<Void> f = new CompletableFuture<>();
            try {
                ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, key, value);
                // trace context and callback of the job being handled on this thread
                JobContext.current().forEach((k, v) -> record.headers().add(k, v.getBytes(StandardCharsets.UTF_8)));
                producer.send(record, (md, e) -> {
                    if (e != null) {
                        f.completeExceptionally(e);
                    } else {
                        f.complete(null);
                    }
                });
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
            }
            return f;
        };
    }

    /**
     * A group-less consumer for the state view: assigned partitions, no commits. Fetches wait for
     * 64 KiB or 50 ms: under load one fetch per event costs more CPU than the submissions
     * themselves, and this gateway's own submissions are in the view before the broker echoes them.
     */
    public static KafkaConsumer<String, byte[]> stateViewConsumer(String bootstrapServers) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
        p.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 64 * 1024);
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 50);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "gateway-state-view-" + UUID.randomUUID());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    /**
     * Creates the fleet's topics when missing ({@code job-events} compacted); existing topics are
     * left as they are.
     *
     * @throws IllegalStateException Kafka did not answer within {@code timeout}
     */
    public static void createTopics(String bootstrapServers, int partitions, short replication, Duration timeout) {
        Map<String, Object> conf = Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                bootstrapServers,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
                (int) timeout.toMillis());
        try (Admin admin = Admin.create(conf)) {
            List<NewTopic> topics = new ArrayList<>();
            for (String name : List.of(Topics.GENERATE, Topics.CANCEL, Topics.GENERATE_DLQ, Topics.TRAIN)) {
                topics.add(new NewTopic(name, partitions, replication));
            }
            topics.add(new NewTopic(Topics.JOB_EVENTS, partitions, replication)
                    .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT)));
            var result = admin.createTopics(topics);
            for (var e : result.values().entrySet()) {
                try {
                    e.getValue().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException ex) {
                    if (!(ex.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException(
                                "cannot create topic " + e.getKey() + " on " + bootstrapServers + ": "
                                        + ex.getCause().getMessage() + ": check KAFKA_BOOTSTRAP_SERVERS and the"
                                        + " broker's permissions",
                                ex);
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        } catch (TimeoutException e) {
            throw new IllegalStateException(
                    "Kafka at " + bootstrapServers + " did not answer within " + timeout
                            + ": start the broker or set KAFKA_BOOTSTRAP_SERVERS",
                    e);
        }
    }
}
