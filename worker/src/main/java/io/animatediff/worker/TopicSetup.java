package io.animatediff.worker;

import io.animatediff.common.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates the fleet's generation topics when absent (whoever starts first creates them, per the
 * contract): {@code animatediff.generate}, {@code animatediff.job-events} (compacted), {@code
 * animatediff.cancel} and {@code animatediff.generate.dlq}. Existing topics are left as they are.
 */
public final class TopicSetup {
    private TopicSetup() {}

    /** The topics with their settings. */
    public static List<NewTopic> topics(int partitions, short replication) {
        return List.of(
                new NewTopic(Topics.GENERATE, partitions, replication),
                new NewTopic(Topics.JOB_EVENTS, partitions, replication)
                        .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT)),
                new NewTopic(Topics.CANCEL, partitions, replication),
                new NewTopic(Topics.GENERATE_DLQ, partitions, replication));
    }

    /** Creates what is missing; fails naming the broker when it cannot be reached within {@code timeout}. */
    public static void ensure(String bootstrapServers, int partitions, short replication, Duration timeout) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Long.toString(timeout.toMillis()));
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Long.toString(Math.min(timeout.toMillis(), 30_000)));
        try (Admin admin = Admin.create(p)) {
            for (Map.Entry<String, KafkaFuture<Void>> e :
                    admin.createTopics(topics(partitions, replication)).values().entrySet()) {
                try {
                    e.getValue().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException ex) {
                    if (ex.getCause() instanceof org.apache.kafka.common.errors.TimeoutException) {
                        throw new IllegalStateException(
                                "Kafka at " + bootstrapServers + " did not answer within " + timeout.toSeconds()
                                        + " s: start the broker or set " + WorkerConfig.ENV_BOOTSTRAP,
                                ex.getCause());
                    }
                    if (!(ex.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException(
                                "cannot create topic " + e.getKey() + " on " + bootstrapServers + ": " + ex.getCause()
                                        + ": check " + WorkerConfig.ENV_BOOTSTRAP + ", the broker's ACLs and "
                                        + WorkerConfig.ENV_REPLICATION,
                                ex.getCause());
                    }
                } catch (TimeoutException ex) {
                    throw new IllegalStateException(
                            "Kafka at " + bootstrapServers + " did not answer within " + timeout.toSeconds()
                                    + " s: start the broker or set " + WorkerConfig.ENV_BOOTSTRAP,
                            ex);
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while creating topics", ex);
                }
            }
        }
    }
}
