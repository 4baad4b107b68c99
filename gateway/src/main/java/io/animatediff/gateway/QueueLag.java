package io.animatediff.gateway;

import io.animatediff.common.Topics;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * The generation queue's lag: records on {@code animatediff.generate} not yet committed by the
 * {@code workers} group (partitions the group never committed count from their earliest offset).
 * The same number KEDA scales GPU workers on, exported by the gateway as {@code
 * animatediff_gateway_queue_lag_jobs}.
 */
public final class QueueLag implements AutoCloseable {
    private final Admin admin;

    public QueueLag(String bootstrapServers) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 10000);
        this.admin = Admin.create(p);
    }

    /** Current lag, or -1 when Kafka did not answer within {@code timeout}. */
    public long measure(Duration timeout) {
        try {
            long ms = timeout.toMillis();
            List<TopicPartition> parts = admin
                    .describeTopics(List.of(Topics.GENERATE))
                    .allTopicNames()
                    .get(ms, TimeUnit.MILLISECONDS)
                    .get(Topics.GENERATE)
                    .partitions()
                    .stream()
                    .map(i -> new TopicPartition(Topics.GENERATE, i.partition()))
                    .toList();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
            parts.forEach(tp -> {
                latest.put(tp, OffsetSpec.latest());
                earliest.put(tp, OffsetSpec.earliest());
            });
            var ends = admin.listOffsets(latest).all().get(ms, TimeUnit.MILLISECONDS);
            var starts = admin.listOffsets(earliest).all().get(ms, TimeUnit.MILLISECONDS);
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(Topics.WORKERS_GROUP)
                    .partitionsToOffsetAndMetadata()
                    .get(ms, TimeUnit.MILLISECONDS);
            long lag = 0;
            for (TopicPartition tp : parts) {
                OffsetAndMetadata c = committed.get(tp);
                long from = c != null ? c.offset() : starts.get(tp).offset();
                lag += Math.max(0, ends.get(tp).offset() - from);
            }
            return lag;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        } catch (Exception e) {
            return -1;
        }
    }

    @Override
    public void close() {
        admin.close(Duration.ofSeconds(5));
    }
}
