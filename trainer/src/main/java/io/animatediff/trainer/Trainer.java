package io.animatediff.trainer;

import io.animatediff.common.Topics;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.worker.CancelListener;
import io.animatediff.worker.EventPublisher;
import io.animatediff.worker.JobConsumer;
import io.animatediff.worker.TopicSetup;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * One trainer: topics and bucket ensured, the cancel listener (every partition of {@code
 * animatediff.cancel}, no group), the event publisher and the {@link JobConsumer} of {@code
 * animatediff.train}. {@link #close()} stops in reverse order.
 */
public final class Trainer implements AutoCloseable {
    private final ObjectStore store;
    private final CancelListener cancels;
    private final EventPublisher events;
    private final JobConsumer consumer;
    private final boolean ownsStore;

    private Trainer(TrainerConfig config, ObjectStore store, boolean ownsStore) {
        this.store = store;
        this.ownsStore = ownsStore;
        this.cancels = new CancelListener(config.bootstrapServers(), config.trainerId(), Duration.ofDays(7));
        this.events = new EventPublisher(config.bootstrapServers(), config.trainerId());
        this.consumer = new JobConsumer(
                new JobConsumer.Settings(
                        config.bootstrapServers(),
                        config.groupId(),
                        config.trainerId(),
                        Topics.TRAIN,
                        "trainer",
                        config.maxPollInterval(),
                        config.pollTimeout()),
                new TrainingJobRunner(config, store, events, cancels::isCancelled)::handle);
    }

    /** Creates what is missing and starts consuming; {@code ownsStore}: close the store with the trainer. */
    public static Trainer start(TrainerConfig config, ObjectStore store, boolean ownsStore)
            throws InterruptedException {
        ensureTopics(config.bootstrapServers(), config.partitions(), Duration.ofSeconds(30));
        store.ensureBucket();
        Trainer t = new Trainer(config, store, ownsStore);
        t.cancels.start();
        t.cancels.awaitCaughtUp(Duration.ofSeconds(30));
        t.consumer.start();
        return t;
    }

    /** The worker's topics and {@code animatediff.train}, created when absent. */
    public static void ensureTopics(String bootstrapServers, int partitions, Duration timeout) {
        TopicSetup.ensure(bootstrapServers, partitions, (short) 1, timeout);
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Long.toString(timeout.toMillis()));
        try (Admin admin = Admin.create(p)) {
            admin.createTopics(List.of(new NewTopic(Topics.TRAIN, partitions, (short) 1)))
                    .all()
                    .get();
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException(
                        "cannot create " + Topics.TRAIN + " on " + bootstrapServers + ": "
                                + e.getCause().getMessage() + ": check that the broker is up",
                        e.getCause());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating " + Topics.TRAIN, e);
        }
    }

    /** Whether the consumer loop runs. */
    public boolean isRunning() {
        return consumer.isRunning();
    }

    @Override
    public void close() throws InterruptedException {
        try {
            consumer.close();
        } finally {
            events.close();
            cancels.close();
            if (ownsStore) {
                store.close();
            }
        }
    }
}
