package io.animatediff.worker;

import io.animatediff.common.Topics;
import io.animatediff.common.store.StoreConfig;
import io.animatediff.common.validation.ValidationLimits;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;

/**
 * Everything a worker process is configured with. {@link #fromEnvironment()} reads system
 * properties first ({@code animatediff.worker.max-attempts}), then environment variables ({@code
 * ANIMATEDIFF_WORKER_MAX_ATTEMPTS}), then the defaults below.
 *
 * @param bootstrapServers Kafka {@code host:port[,host:port]} ({@code KAFKA_BOOTSTRAP_SERVERS},
 *     default {@code localhost:9092})
 * @param store the object store ({@code ANIMATEDIFF_S3_*}, see {@link StoreConfig})
 * @param cacheDir model disk cache and scratch space ({@code ANIMATEDIFF_CACHE_DIR}, default {@code
 *     ~/.cache/animatediff})
 * @param workerId names this worker in events ({@code ANIMATEDIFF_WORKER_ID}, default {@code
 *     host-pid})
 * @param healthPort HTTP port of {@code /live}, {@code /ready}, {@code /metrics} ({@code
 *     ANIMATEDIFF_WORKER_HEALTH_PORT}, default 8081; 0 picks a free port, -1 disables it)
 * @param groupId consumer group of {@code animatediff.generate} (always {@value Topics#WORKERS_GROUP}
 *     in production; tests isolate themselves with another)
 * @param maxAttempts attempts of a job failing with a retryable code before it goes to the DLQ
 *     ({@code ANIMATEDIFF_WORKER_MAX_ATTEMPTS}, default 3)
 * @param modelCacheBytes bytes of loaded models kept in memory, least recently used evicted first
 *     ({@code ANIMATEDIFF_WORKER_MODEL_CACHE_BYTES}, default 8 GiB; suffixes k, m, g)
 * @param maxPollInterval Kafka {@code max.poll.interval.ms} ({@code
 *     ANIMATEDIFF_WORKER_MAX_POLL_INTERVAL_MS}, default 300000); jobs may run longer because the
 *     worker keeps polling with its partitions paused
 * @param pollTimeout how long one poll waits for a record
 * @param progressInterval shortest gap between two PROGRESS events of a job ({@code
 *     ANIMATEDIFF_WORKER_PROGRESS_INTERVAL_MS}, default 250); the last step is always published
 * @param retryBackoff wait before re-publishing a failed attempt, doubled per attempt ({@code
 *     ANIMATEDIFF_WORKER_RETRY_BACKOFF_MS}, default 1000)
 * @param cancelLookback how far back the cancel listener reads, and how long a cancel is remembered
 *     (default 1 h)
 * @param topicPartitions partitions of the topics this worker creates when they are absent ({@code
 *     ANIMATEDIFF_KAFKA_PARTITIONS}, default 6)
 * @param topicReplication replication factor of those topics ({@code
 *     ANIMATEDIFF_KAFKA_REPLICATION}, default 1)
 * @param warmup run a tiny forward pass before reporting ready ({@code ANIMATEDIFF_WORKER_WARMUP},
 *     default true)
 * @param limits request limits the shared validator enforces
 * @param storagePatience how long one attempt waits out an unreachable object store before it
 *     counts as failed ({@code ANIMATEDIFF_WORKER_STORAGE_PATIENCE_MS}, default 120000; 0: fail at
 *     once)
 * @param memoryBudgetBytes native memory one job may use on top of its loaded models, as predicted
 *     from its shape by the engine's MemoryPlan; a job predicted above it runs with the splits
 *     MemoryPlan.fit chooses (same output), and fails OUT_OF_MEMORY before it runs if still above ({@code ANIMATEDIFF_MEMORY_BUDGET_BYTES}, default 0: no limit; suffixes k, m, g)
 * @param batchMax most compatible queued jobs run as one batch, one UNet call per step ({@code
 *     ANIMATEDIFF_BATCH_MAX}, property {@code animatediff.batch-max}, default 1: no batching; see
 *     the README's "Batching" figures for when it pays)
 */
public record WorkerConfig(
        String bootstrapServers,
        StoreConfig store,
        Path cacheDir,
        String workerId,
        int healthPort,
        String groupId,
        int maxAttempts,
        long modelCacheBytes,
        Duration maxPollInterval,
        Duration pollTimeout,
        Duration progressInterval,
        Duration retryBackoff,
        Duration cancelLookback,
        int topicPartitions,
        short topicReplication,
        boolean warmup,
        ValidationLimits limits,
        Duration storagePatience,
        long memoryBudgetBytes,
        int batchMax) {

    public static final String ENV_BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS";
    public static final String ENV_CACHE_DIR = "ANIMATEDIFF_CACHE_DIR";
    public static final String ENV_WORKER_ID = "ANIMATEDIFF_WORKER_ID";
    public static final String ENV_HEALTH_PORT = "ANIMATEDIFF_WORKER_HEALTH_PORT";
    public static final String ENV_MAX_ATTEMPTS = "ANIMATEDIFF_WORKER_MAX_ATTEMPTS";
    public static final String ENV_MODEL_CACHE_BYTES = "ANIMATEDIFF_WORKER_MODEL_CACHE_BYTES";
    public static final String ENV_MAX_POLL_INTERVAL_MS = "ANIMATEDIFF_WORKER_MAX_POLL_INTERVAL_MS";
    public static final String ENV_PROGRESS_INTERVAL_MS = "ANIMATEDIFF_WORKER_PROGRESS_INTERVAL_MS";
    public static final String ENV_RETRY_BACKOFF_MS = "ANIMATEDIFF_WORKER_RETRY_BACKOFF_MS";
    public static final String ENV_PARTITIONS = "ANIMATEDIFF_KAFKA_PARTITIONS";
    public static final String ENV_REPLICATION = "ANIMATEDIFF_KAFKA_REPLICATION";
    public static final String ENV_WARMUP = "ANIMATEDIFF_WORKER_WARMUP";
    public static final String ENV_STORAGE_PATIENCE_MS = "ANIMATEDIFF_WORKER_STORAGE_PATIENCE_MS";
    public static final String ENV_MEMORY_BUDGET_BYTES = "ANIMATEDIFF_MEMORY_BUDGET_BYTES";
    public static final String ENV_BATCH_MAX = "ANIMATEDIFF_BATCH_MAX";
    /** Most jobs in one batch: far above what pays on any device, and bounded by max.poll.records. */
    public static final int MAX_BATCH = 64;

    public static final int DEFAULT_HEALTH_PORT = 8081;
    public static final int DEFAULT_MAX_ATTEMPTS = 3;
    public static final long DEFAULT_MODEL_CACHE_BYTES = 8L << 30;

    public WorkerConfig {
        require(bootstrapServers, "bootstrapServers", ENV_BOOTSTRAP);
        Objects.requireNonNull(store, "store");
        Objects.requireNonNull(cacheDir, "cacheDir");
        require(workerId, "workerId", ENV_WORKER_ID);
        require(groupId, "groupId", "(group id)");
        Objects.requireNonNull(limits, "limits");
        if (healthPort < -1 || healthPort > 65535) {
            throw new IllegalArgumentException(
                    ENV_HEALTH_PORT + " is " + healthPort + ": use a port 1-65535, 0 for any free port or -1 for none");
        }
        if (maxAttempts < 1) {
            throw new IllegalArgumentException(ENV_MAX_ATTEMPTS + " is " + maxAttempts + ": use 1 or more");
        }
        if (memoryBudgetBytes < 0) {
            throw new IllegalArgumentException(ENV_MEMORY_BUDGET_BYTES + " is " + memoryBudgetBytes
                    + ": use 0 (no limit) or more bytes (suffix k, m or g)");
        }
        if (batchMax < 1 || batchMax > MAX_BATCH) {
            throw new IllegalArgumentException(ENV_BATCH_MAX + " is " + batchMax + ": use 1 (no batching) to "
                    + MAX_BATCH + " (most compatible jobs run as one batch)");
        }
        if (modelCacheBytes < 0) {
            throw new IllegalArgumentException(
                    ENV_MODEL_CACHE_BYTES + " is " + modelCacheBytes + ": use 0 or more bytes (suffix k, m or g)");
        }
        positive(maxPollInterval, ENV_MAX_POLL_INTERVAL_MS);
        positive(pollTimeout, "pollTimeout");
        nonNegative(progressInterval, ENV_PROGRESS_INTERVAL_MS);
        nonNegative(retryBackoff, ENV_RETRY_BACKOFF_MS);
        nonNegative(storagePatience, ENV_STORAGE_PATIENCE_MS);
        positive(cancelLookback, "cancelLookback");
        if (pollTimeout.compareTo(maxPollInterval) >= 0) {
            throw new IllegalArgumentException("poll timeout " + pollTimeout + " must be shorter than "
                    + ENV_MAX_POLL_INTERVAL_MS + " (" + maxPollInterval.toMillis() + " ms)");
        }
        if (topicPartitions < 1) {
            throw new IllegalArgumentException(ENV_PARTITIONS + " is " + topicPartitions + ": use 1 or more");
        }
        if (topicReplication < 1) {
            throw new IllegalArgumentException(ENV_REPLICATION + " is " + topicReplication + ": use 1 or more");
        }
    }

    /** The defaults around the three settings every deployment sets. */
    public static WorkerConfig defaults(String bootstrapServers, StoreConfig store, Path cacheDir) {
        return new WorkerConfig(
                bootstrapServers,
                store,
                cacheDir,
                defaultWorkerId(),
                DEFAULT_HEALTH_PORT,
                Topics.WORKERS_GROUP,
                DEFAULT_MAX_ATTEMPTS,
                DEFAULT_MODEL_CACHE_BYTES,
                Duration.ofMinutes(5),
                Duration.ofMillis(100),
                Duration.ofMillis(250),
                Duration.ofSeconds(1),
                Duration.ofHours(1),
                6,
                (short) 1,
                true,
                ValidationLimits.DEFAULTS,
                Duration.ofMinutes(2),
                0,
                1);
    }

    /** Reads system properties, then environment variables, then the defaults. */
    public static WorkerConfig fromEnvironment() {
        return from(System::getProperty, System::getenv);
    }

    /**
     * Reads the configuration from {@code properties} (names like {@code
     * animatediff.worker.max-attempts}, {@code kafka.bootstrap.servers}) and then {@code environment}
     * (names like {@code ANIMATEDIFF_WORKER_MAX_ATTEMPTS}).
     */
    public static WorkerConfig from(Function<String, String> properties, Function<String, String> environment) {
        Function<String, String> lookup = env -> {
            String v = properties.apply(propertyName(env));
            if (v == null || v.isBlank()) {
                v = environment.apply(env);
            }
            return v == null || v.isBlank() ? null : v.trim();
        };
        String bootstrap = or(lookup.apply(ENV_BOOTSTRAP), "localhost:9092");
        String cache = lookup.apply(ENV_CACHE_DIR);
        Path cacheDir =
                cache != null ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "animatediff");
        WorkerConfig d = defaults(bootstrap, StoreConfig.from(properties, environment), cacheDir);
        return new WorkerConfig(
                d.bootstrapServers,
                d.store,
                d.cacheDir,
                or(lookup.apply(ENV_WORKER_ID), d.workerId),
                intValue(lookup, ENV_HEALTH_PORT, d.healthPort),
                d.groupId,
                intValue(lookup, ENV_MAX_ATTEMPTS, d.maxAttempts),
                bytes(lookup, ENV_MODEL_CACHE_BYTES, d.modelCacheBytes),
                millis(lookup, ENV_MAX_POLL_INTERVAL_MS, d.maxPollInterval),
                d.pollTimeout,
                millis(lookup, ENV_PROGRESS_INTERVAL_MS, d.progressInterval),
                millis(lookup, ENV_RETRY_BACKOFF_MS, d.retryBackoff),
                d.cancelLookback,
                intValue(lookup, ENV_PARTITIONS, d.topicPartitions),
                (short) intValue(lookup, ENV_REPLICATION, d.topicReplication),
                bool(lookup, ENV_WARMUP, d.warmup),
                d.limits,
                millis(lookup, ENV_STORAGE_PATIENCE_MS, d.storagePatience),
                bytes(lookup, ENV_MEMORY_BUDGET_BYTES, d.memoryBudgetBytes),
                intValue(lookup, ENV_BATCH_MAX, d.batchMax));
    }

    /** {@code animatediff.worker.max-attempts} for {@code ANIMATEDIFF_WORKER_MAX_ATTEMPTS}. */
    public static String propertyName(String envName) {
        String lower = envName.toLowerCase(Locale.ROOT);
        if (lower.startsWith("animatediff_worker_")) {
            return "animatediff.worker."
                    + lower.substring("animatediff_worker_".length()).replace('_', '-');
        }
        if (lower.startsWith("animatediff_")) {
            return "animatediff." + lower.substring("animatediff_".length()).replace('_', '-');
        }
        return lower.replace('_', '.');
    }

    /** {@code <hostname>-<pid>}. */
    public static String defaultWorkerId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "worker";
        }
        String pid = ManagementFactory.getRuntimeMXBean().getName().split("@")[0];
        return host + "-" + pid;
    }

    /** Parses {@code 8589934592}, {@code 512m}, {@code 8g}, {@code 64k}. */
    public static long parseBytes(String text, String name) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        long unit = 1;
        if (t.endsWith("k") || t.endsWith("m") || t.endsWith("g")) {
            char c = t.charAt(t.length() - 1);
            unit = c == 'k' ? 1L << 10 : c == 'm' ? 1L << 20 : 1L << 30;
            t = t.substring(0, t.length() - 1);
        }
        try {
            return Math.multiplyExact(Long.parseLong(t), unit);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(
                    name + " is '" + text + "': use a number of bytes, optionally with suffix k, m or g (e.g. 8g)", e);
        }
    }

    public WorkerConfig withWorkerId(String v) {
        return toBuilder().workerId(v).build();
    }

    public WorkerConfig withHealthPort(int v) {
        return toBuilder().healthPort(v).build();
    }

    /** A builder holding this configuration. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Changes a few settings of a configuration (tests, embedding). */
    public static final class Builder {
        private String bootstrapServers;
        private StoreConfig store;
        private Path cacheDir;
        private String workerId;
        private int healthPort;
        private String groupId;
        private int maxAttempts;
        private long modelCacheBytes;
        private Duration maxPollInterval;
        private Duration pollTimeout;
        private Duration progressInterval;
        private Duration retryBackoff;
        private Duration cancelLookback;
        private int topicPartitions;
        private short topicReplication;
        private boolean warmup;
        private ValidationLimits limits;
        private Duration storagePatience;
        private long memoryBudgetBytes;
        private int batchMax;

        private Builder(WorkerConfig c) {
            bootstrapServers = c.bootstrapServers;
            store = c.store;
            cacheDir = c.cacheDir;
            workerId = c.workerId;
            healthPort = c.healthPort;
            groupId = c.groupId;
            maxAttempts = c.maxAttempts;
            modelCacheBytes = c.modelCacheBytes;
            maxPollInterval = c.maxPollInterval;
            pollTimeout = c.pollTimeout;
            progressInterval = c.progressInterval;
            retryBackoff = c.retryBackoff;
            cancelLookback = c.cancelLookback;
            topicPartitions = c.topicPartitions;
            topicReplication = c.topicReplication;
            warmup = c.warmup;
            limits = c.limits;
            storagePatience = c.storagePatience;
            memoryBudgetBytes = c.memoryBudgetBytes;
            batchMax = c.batchMax;
        }

        public Builder store(StoreConfig v) {
            store = v;
            return this;
        }

        public Builder cacheDir(Path v) {
            cacheDir = v;
            return this;
        }

        public Builder workerId(String v) {
            workerId = v;
            return this;
        }

        public Builder healthPort(int v) {
            healthPort = v;
            return this;
        }

        public Builder groupId(String v) {
            groupId = v;
            return this;
        }

        public Builder maxAttempts(int v) {
            maxAttempts = v;
            return this;
        }

        public Builder modelCacheBytes(long v) {
            modelCacheBytes = v;
            return this;
        }

        public Builder maxPollInterval(Duration v) {
            maxPollInterval = v;
            return this;
        }

        public Builder pollTimeout(Duration v) {
            pollTimeout = v;
            return this;
        }

        public Builder progressInterval(Duration v) {
            progressInterval = v;
            return this;
        }

        public Builder retryBackoff(Duration v) {
            retryBackoff = v;
            return this;
        }

        public Builder cancelLookback(Duration v) {
            cancelLookback = v;
            return this;
        }

        public Builder topicPartitions(int v) {
            topicPartitions = v;
            return this;
        }

        public Builder topicReplication(short v) {
            topicReplication = v;
            return this;
        }

        public Builder warmup(boolean v) {
            warmup = v;
            return this;
        }

        public Builder limits(ValidationLimits v) {
            limits = v;
            return this;
        }

        public Builder storagePatience(Duration v) {
            storagePatience = v;
            return this;
        }

        public Builder memoryBudgetBytes(long v) {
            memoryBudgetBytes = v;
            return this;
        }

        public Builder batchMax(int v) {
            batchMax = v;
            return this;
        }

        public WorkerConfig build() {
            return new WorkerConfig(
                    bootstrapServers,
                    store,
                    cacheDir,
                    workerId,
                    healthPort,
                    groupId,
                    maxAttempts,
                    modelCacheBytes,
                    maxPollInterval,
                    pollTimeout,
                    progressInterval,
                    retryBackoff,
                    cancelLookback,
                    topicPartitions,
                    topicReplication,
                    warmup,
                    limits,
                    storagePatience,
                    memoryBudgetBytes,
                    batchMax);
        }
    }

    private static String or(String v, String d) {
        return v == null ? d : v;
    }

    private static int intValue(Function<String, String> lookup, String env, int d) {
        String v = lookup.apply(env);
        if (v == null) {
            return d;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(env + " is '" + v + "': use an integer", e);
        }
    }

    private static long bytes(Function<String, String> lookup, String env, long d) {
        String v = lookup.apply(env);
        return v == null ? d : parseBytes(v, env);
    }

    private static Duration millis(Function<String, String> lookup, String env, Duration d) {
        String v = lookup.apply(env);
        if (v == null) {
            return d;
        }
        try {
            return Duration.ofMillis(Long.parseLong(v));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(env + " is '" + v + "': use a whole number of milliseconds", e);
        }
    }

    private static boolean bool(Function<String, String> lookup, String env, boolean d) {
        String v = lookup.apply(env);
        if (v == null) {
            return d;
        }
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no" -> false;
            default -> throw new IllegalArgumentException(env + " is '" + v + "': use true or false");
        };
    }

    private static void require(String value, String name, String env) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("worker " + name + " is not configured: set " + env);
        }
    }

    private static void positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " is " + d + ": use a positive duration");
        }
    }

    private static void nonNegative(Duration d, String name) {
        if (d == null || d.isNegative()) {
            throw new IllegalArgumentException(name + " is " + d + ": use a duration >= 0");
        }
    }
}
