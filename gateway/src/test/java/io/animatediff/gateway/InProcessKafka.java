package io.animatediff.gateway;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.Map;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/** A real KRaft broker in-process (KafkaClusterTestKit 4.1.2) for {@code @QuarkusTest}s. */
public class InProcessKafka implements QuarkusTestResourceLifecycleManager {
    static volatile String bootstrapServers;

    private KafkaClusterTestKit kit;

    /** Starts a combined broker+controller on a free port. */
    static KafkaClusterTestKit startBroker() throws Exception {
        KafkaClusterTestKit kit = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                        .setCombined(true)
                        .setNumBrokerNodes(1)
                        .setNumControllerNodes(1)
                        .build())
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .setConfigProp("transaction.state.log.min.isr", "1")
                .setConfigProp("log.cleaner.enable", "true")
                .build();
        kit.format();
        kit.startup();
        kit.waitForReadyBrokers();
        return kit;
    }

    @Override
    public Map<String, String> start() {
        try {
            kit = startBroker();
        } catch (Exception e) {
            throw new IllegalStateException("in-process Kafka did not start: " + e, e);
        }
        bootstrapServers = kit.bootstrapServers();
        return Map.of("kafka.bootstrap.servers", bootstrapServers);
    }

    @Override
    public void stop() {
        if (kit != null) {
            try {
                kit.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
