package io.animatediff.worker;

import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.ObjectStoreException;
import io.animatediff.engine.model.AnimateDiffModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One generation worker: topics ensured, health server, cancel listener, engine warm-up, then the
 * job consumer. {@link #start} returns once the worker takes jobs; {@link #close} is what SIGTERM
 * runs (stop polling, abort and leave the running job uncommitted, close everything).
 */
public final class Worker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Worker.class);
    private static final Duration TOPIC_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration CANCEL_CATCH_UP = Duration.ofSeconds(30);

    private final WorkerConfig config;
    private final ObjectStore store;
    private final boolean ownsStore;
    private final WorkerMetrics metrics = new WorkerMetrics();
    private HealthServer health;
    private EventPublisher events;
    private CancelListener cancels;
    private ModelResolver resolver;
    private JobConsumer consumer;
    private volatile boolean ready;
    private volatile boolean closed;

    private Worker(WorkerConfig config, ObjectStore store, boolean ownsStore) {
        this.config = config;
        this.store = store;
        this.ownsStore = ownsStore;
        metrics.readiness(this::isReady);
    }

    /** Starts a worker with the object store of its configuration. */
    public static Worker start(WorkerConfig config) {
        return start(config, new ObjectStore(config.store()), true);
    }

    /** Starts a worker on a given store (closed with the worker when {@code ownsStore}). */
    public static Worker start(WorkerConfig config, ObjectStore store, boolean ownsStore) {
        Worker w = new Worker(config, store, ownsStore);
        try {
            w.startAll();
            return w;
        } catch (RuntimeException | Error e) {
            w.close();
            throw e;
        }
    }

    private void startAll() {
        // 1. liveness at once; readiness once warm
        if (config.healthPort() >= 0) {
            health = HealthServer.start(config.healthPort(), this::isReady, metrics);
        }
        try {
            Files.createDirectories(config.cacheDir());
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot create the cache folder " + config.cacheDir() + ": " + e.getMessage() + ": set "
                            + WorkerConfig.ENV_CACHE_DIR + " to a writable folder",
                    e);
        }
        // 2. Kafka topics and the bucket (whoever starts first creates them)
        TopicSetup.ensure(
                config.bootstrapServers(), config.topicPartitions(), config.topicReplication(), TOPIC_TIMEOUT);
        try {
            store.ensureBucket();
        } catch (ObjectStoreException e) {
            LOG.warn("object store not available yet ({}); jobs fail and retry until it is", e.getMessage());
        }
        // 3. cancels, read from the last lookback
        events = new EventPublisher(config.bootstrapServers(), config.workerId());
        cancels = new CancelListener(config.bootstrapServers(), config.workerId(), config.cancelLookback());
        cancels.start();
        // 4. the engine
        if (config.warmup()) {
            EngineWarmup.run(config.cacheDir().resolve("scratch"));
        }
        // 5. caches and the runner
        ModelRegistry registry = new ModelRegistry(store);
        resolver = new ModelResolver(
                registry,
                new ModelDiskCache(config.cacheDir(), registry, metrics, ModelDiskCache.budgetFrom(System.getenv())),
                new ModelMemoryCache<ModelResolver.Key, AnimateDiffModel>(config.modelCacheBytes(), metrics));
        JobRunner runner = new JobRunner(
                config,
                resolver,
                new ResultUploader(store, config.cacheDir().resolve("scratch"), config.storagePatience()),
                events,
                cancels::isCancelled,
                metrics);
        try {
            if (!cancels.awaitCaughtUp(CANCEL_CATCH_UP)) {
                LOG.warn("cancel listener has not caught up after {} s: starting anyway", CANCEL_CATCH_UP.toSeconds());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting", e);
        }
        // 6. jobs
        consumer = new JobConsumer(config, runner);
        consumer.start();
        ready = true;
        LOG.info(
                "worker {} ready: Kafka {}, store {}, cache {}{}",
                config.workerId(),
                config.bootstrapServers(),
                config.store().endpoint() + "/" + config.store().bucket(),
                config.cacheDir(),
                health == null ? "" : ", health on port " + health.port());
    }

    /** Whether the engine is warm and the consumers run. */
    public boolean isReady() {
        return ready && !closed && consumer != null && consumer.isRunning();
    }

    public WorkerMetrics metrics() {
        return metrics;
    }

    public WorkerConfig config() {
        return config;
    }

    /** The health server's port, or -1 when disabled. */
    public int healthPort() {
        return health == null ? -1 : health.port();
    }

    /** Partitions of {@code animatediff.generate} assigned to this worker now. */
    public Set<TopicPartition> assignment() {
        return consumer == null ? Set.of() : consumer.assignment();
    }

    /** Stops polling, aborts a running job (left uncommitted unless it finished), closes everything. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        ready = false;
        try {
            if (consumer != null) {
                consumer.close();
            }
            if (cancels != null) {
                cancels.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (events != null) {
                events.close();
            }
            if (resolver != null) {
                resolver.close();
            }
            if (health != null) {
                health.close();
            }
            if (ownsStore) {
                store.close();
            }
            LOG.info("worker {} stopped", config.workerId());
        }
    }
}
