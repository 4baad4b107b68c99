package io.animatediff.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.animatediff.common.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.Test;

/** The queue-lag gauge's number against a real broker: produced minus committed by {@code workers}. */
class QueueLagTest {
    @Test
    void lagIsProducedMinusCommittedByTheWorkersGroup() throws Exception {
        try (KafkaClusterTestKit kit = InProcessKafka.startBroker();
                QueueLag lag = new QueueLag(kit.bootstrapServers())) {
            KafkaClients.createTopics(kit.bootstrapServers(), 2, (short) 1, Duration.ofSeconds(30));
            assertEquals(0, lag.measure(Duration.ofSeconds(10)));
            try (KafkaProducer<String, byte[]> p = KafkaClients.producer(kit.bootstrapServers())) {
                for (int i = 0; i < 5; i++) {
                    p.send(new ProducerRecord<>(Topics.GENERATE, 0, "job-" + i, new byte[] {1}))
                            .get();
                }
            }
            assertEquals(5, lag.measure(Duration.ofSeconds(10)));
            Properties c = new Properties();
            c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kit.bootstrapServers());
            c.put(ConsumerConfig.GROUP_ID_CONFIG, Topics.WORKERS_GROUP);
            try (KafkaConsumer<String, byte[]> consumer =
                    new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer())) {
                TopicPartition tp = new TopicPartition(Topics.GENERATE, 0);
                consumer.assign(List.of(tp));
                consumer.commitSync(Map.of(tp, new OffsetAndMetadata(3)));
            }
            assertEquals(2, lag.measure(Duration.ofSeconds(10)));
        }
    }
}
