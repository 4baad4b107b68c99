package io.animatediff.local;

import io.animatediff.common.store.StoreConfig;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Function;

/**
 * What local mode starts. An external Kafka ({@value #ENV_KAFKA}) or S3 ({@code
 * ANIMATEDIFF_S3_ENDPOINT} with its keys) replaces the local broker or S3Proxy with no code change.
 *
 * @param layout project and state folders
 * @param externalKafka bootstrap servers of a Kafka to use instead of starting one
 * @param externalStore an S3 store to use instead of starting S3Proxy
 * @param services whether to start the gateway and the worker (false: broker and S3 only)
 * @param startupTimeout how long each component may take to become ready
 * @param gatewayPort the gateway's HTTP port (0: a free one)
 * @param apiKey the API key to accept (null: a fresh one per run)
 * @param workerThreads intra-op threads of the worker's engine
 */
public record LocalSettings(
        LocalLayout layout,
        Optional<String> externalKafka,
        Optional<StoreConfig> externalStore,
        boolean services,
        Duration startupTimeout,
        int gatewayPort,
        String apiKey,
        int workerThreads) {
    public static final String ENV_KAFKA = "KAFKA_BOOTSTRAP_SERVERS";
    /** An API key to use instead of a fresh one. */
    public static final String ENV_API_KEY = "ANIMATEDIFF_API_KEY";
    /** Default readiness timeout per component: this machine kind has 2 cores shared by every process. */
    public static final Duration DEFAULT_STARTUP_TIMEOUT = Duration.ofSeconds(180);

    /** Reads external Kafka / S3 and the API key from the environment. */
    public static LocalSettings fromEnvironment(LocalLayout layout, boolean services) {
        return from(layout, services, System::getenv);
    }

    static LocalSettings from(LocalLayout layout, boolean services, Function<String, String> env) {
        String kafka = env.apply(ENV_KAFKA);
        String endpoint = env.apply(StoreConfig.ENV_ENDPOINT);
        Optional<StoreConfig> store = endpoint == null || endpoint.isBlank()
                ? Optional.empty()
                : Optional.of(StoreConfig.from(name -> null, env));
        String key = env.apply(ENV_API_KEY);
        return new LocalSettings(
                layout,
                kafka == null || kafka.isBlank() ? Optional.empty() : Optional.of(kafka),
                store,
                services,
                DEFAULT_STARTUP_TIMEOUT,
                0,
                key == null || key.isBlank() ? null : key,
                Runtime.getRuntime().availableProcessors());
    }

    public LocalSettings withStartupTimeout(Duration timeout) {
        return new LocalSettings(
                layout, externalKafka, externalStore, services, timeout, gatewayPort, apiKey, workerThreads);
    }

    public LocalSettings withGatewayPort(int port) {
        return new LocalSettings(
                layout, externalKafka, externalStore, services, startupTimeout, port, apiKey, workerThreads);
    }
}
