package io.animatediff.gateway;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;

/** Kafka connection ({@code KAFKA_BOOTSTRAP_SERVERS}). */
@ConfigMapping(prefix = "kafka")
public interface KafkaConfig {
    /** Comma-separated {@code host:port} list of brokers. */
    @WithName("bootstrap.servers")
    @WithDefault("localhost:9092")
    String bootstrapServers();
}
