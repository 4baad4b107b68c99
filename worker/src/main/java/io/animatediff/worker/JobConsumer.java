package io.animatediff.worker;

import io.animatediff.common.Topics;
import io.animatediff.worker.JobRunner.Disposition;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumer loop of a job topic — the worker's {@code animatediff.generate} (group {@code workers})
 * and the trainer's {@code animatediff.train} (group {@code trainers}) — with manual commits, one
 * record per poll. Owns the {@link KafkaConsumer} on its own thread and runs each job on a second
 * thread:
 *
 * <ul>
 *   <li>while a job runs, every assigned partition is paused and {@code poll()} keeps being called,
 *       so the member stays in the group however long the job takes ({@code max.poll.interval.ms}
 *       bounds the gap between polls, not the job) and no record is handed to anyone else;
 *   <li>the offset is committed only when the job's disposition is {@link Disposition#COMMIT},
 *       i.e. after its results and terminal event were acknowledged; a {@link Disposition#RELEASE}d
 *       record is sought back to and read again;
 *   <li>rebalances (cooperative sticky assignment, so only moving partitions are revoked): when the
 *       partition of the running job is revoked, the job is aborted at its next step boundary, and
 *       committed in the callback if it had already finished; the new owner runs it otherwise.
 *       Newly assigned partitions are paused while a job runs. Lost partitions are never committed;
 *   <li>{@link #close()} (SIGTERM): stops polling, aborts the running job (left uncommitted unless it
 *       had finished), closes the consumer so the group rebalances at once.
 * </ul>
 */
public final class JobConsumer implements Runnable, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobConsumer.class);
    private static final Duration ABORT_WAIT = Duration.ofMinutes(2);
    private static final Duration RELEASE_BACKOFF = Duration.ofSeconds(1);
    /**
     * How soon the group notices a worker that died without leaving (kill -9, a lost machine) and
     * hands its partitions to the others: 10 s instead of Kafka's 45 s (heartbeats run on their own
     * thread, so a long job does not count against it).
     */
    static final Duration SESSION_TIMEOUT = Duration.ofSeconds(10);

    /** The record being worked on. */
    private record InFlight(TopicPartition partition, long offset, Future<Disposition> result, JobControl control) {}

    private final Settings settings;
    private final Handler runner;
    private final KafkaConsumer<String, byte[]> consumer;
    private final ExecutorService jobThread;
    private volatile boolean stopping;
    private volatile boolean running;
    private volatile Set<TopicPartition> assignment = Set.of();
    private InFlight inFlight;
    private long resumeAfterNanos;
    private Thread thread;

    /**
     * What differs between the services that run jobs from a topic this way (the worker on
     * {@code animatediff.generate}, the trainer on {@code animatediff.train}): {@code memberId} names
     * the threads and the client, {@code role} ("worker", "trainer") the log lines.
     */
    public record Settings(
            String bootstrapServers,
            String groupId,
            String memberId,
            String topic,
            String role,
            Duration maxPollInterval,
            Duration pollTimeout) {}

    /** Runs one record's job; the returned disposition decides the commit. */
    @FunctionalInterface
    public interface Handler {
        Disposition handle(ConsumerRecord<String, byte[]> record, JobControl control);
    }

    public JobConsumer(WorkerConfig config, JobRunner runner) {
        this(
                new Settings(
                        config.bootstrapServers(),
                        config.groupId(),
                        config.workerId(),
                        Topics.GENERATE,
                        "worker",
                        config.maxPollInterval(),
                        config.pollTimeout()),
                runner::handle);
    }

    public JobConsumer(Settings settings, Handler runner) {
        this.settings = settings;
        this.runner = runner;
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, settings.groupId());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, settings.memberId() + "-jobs");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "1");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        p.put(
                ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG,
                Long.toString(settings.maxPollInterval().toMillis()));
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, Long.toString(SESSION_TIMEOUT.toMillis()));
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Long.toString(SESSION_TIMEOUT.toMillis() / 4));
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.jobThread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, settings.role() + "-job-" + settings.memberId());
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts the loop on its own thread. */
    public synchronized void start() {
        if (thread != null) {
            throw new IllegalStateException("job consumer already started");
        }
        thread = new Thread(this, settings.role() + "-consumer-" + settings.memberId());
        running = true;
        thread.start();
    }

    /** Whether the loop runs (false before start, after close, or after a fatal consumer error). */
    public boolean isRunning() {
        return running;
    }

    /** The partitions currently assigned to this worker. */
    public Set<TopicPartition> assignment() {
        return assignment;
    }

    @Override
    public void run() {
        try {
            consumer.subscribe(List.of(settings.topic()), new Rebalance());
            while (!stopping) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(settings.pollTimeout())) {
                    TopicPartition tp = new TopicPartition(record.topic(), record.partition());
                    if (inFlight != null) {
                        // one job at a time: read it again once the running job is done
                        consumer.seek(tp, record.offset());
                        consumer.pause(List.of(tp));
                        continue;
                    }
                    start(record, tp);
                }
                if (inFlight != null && inFlight.result().isDone()) {
                    finish();
                }
                if (inFlight == null && resumeAfterNanos != 0 && System.nanoTime() - resumeAfterNanos >= 0) {
                    resumeAfterNanos = 0;
                    consumer.resume(consumer.paused());
                }
            }
        } catch (WakeupException e) {
            if (!stopping) {
                LOG.error("job consumer woken up unexpectedly", e);
            }
        } catch (RuntimeException e) {
            LOG.error("job consumer stopped", e);
        } finally {
            running = false;
            shutdown();
        }
    }

    private void start(ConsumerRecord<String, byte[]> record, TopicPartition tp) {
        JobControl control = new JobControl(System.nanoTime());
        Future<Disposition> result = jobThread.submit(() -> runner.handle(record, control));
        inFlight = new InFlight(tp, record.offset(), result, control);
        consumer.pause(consumer.assignment());
        LOG.debug("took {}@{} (key {})", tp, record.offset(), record.key());
    }

    private void finish() {
        InFlight job = inFlight;
        inFlight = null;
        Disposition d = await(job, Duration.ZERO);
        if (d == Disposition.COMMIT) {
            commit(job);
            consumer.resume(consumer.paused());
        } else {
            // read it again after a pause (Kafka or a bug made it unfinishable just now)
            if (consumer.assignment().contains(job.partition())) {
                consumer.seek(job.partition(), job.offset());
            }
            resumeAfterNanos = System.nanoTime() + RELEASE_BACKOFF.toNanos();
        }
    }

    private void commit(InFlight job) {
        Map<TopicPartition, OffsetAndMetadata> offset =
                Map.of(job.partition(), new OffsetAndMetadata(job.offset() + 1));
        try {
            try {
                consumer.commitSync(offset);
            } catch (WakeupException e) {
                // shutdown raced the commit: commit anyway (a wakeup fires once), then stop
                consumer.commitSync(offset);
                throw e;
            }
        } catch (WakeupException e) {
            throw e;
        } catch (KafkaException e) {
            // e.g. the partition moved in a rebalance: the new owner runs the job again (same keys)
            LOG.warn("commit of {}@{} failed: {}", job.partition(), job.offset(), e.toString());
        }
    }

    private static Disposition await(InFlight job, Duration timeout) {
        try {
            return timeout.isZero() ? job.result().get() : job.result().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Disposition.RELEASE;
        } catch (ExecutionException | TimeoutException e) {
            LOG.error("job at {}@{} did not finish cleanly: {}", job.partition(), job.offset(), e.toString());
            return Disposition.RELEASE;
        }
    }

    /** Aborts the running job and waits for it; returns its disposition. */
    private Disposition abortAndWait(InFlight job, String reason) {
        job.control().abort(reason);
        return await(job, ABORT_WAIT);
    }

    private void shutdown() {
        try {
            if (inFlight != null) {
                InFlight job = inFlight;
                inFlight = null;
                if (abortAndWait(job, settings.role() + " shutting down") == Disposition.COMMIT) {
                    commit(job);
                } else {
                    LOG.info("left {}@{} uncommitted for another {}", job.partition(), job.offset(), settings.role());
                }
            }
        } finally {
            jobThread.shutdownNow();
            try {
                consumer.close(Duration.ofSeconds(10));
            } catch (RuntimeException e) {
                LOG.warn("closing the job consumer: {}", e.toString());
            }
        }
    }

    /** Stops polling and waits for the loop to end (the running job is aborted). */
    @Override
    public void close() throws InterruptedException {
        stopping = true;
        consumer.wakeup();
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            t.join(ABORT_WAIT.toMillis() + 15_000);
        }
    }

    /** Keeps the running job's record with this worker across rebalances where possible. */
    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            release(partitions, true);
            updateAssignment();
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            release(partitions, false);
            updateAssignment();
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (inFlight != null && !partitions.isEmpty()) {
                consumer.pause(partitions);
            }
            updateAssignment();
            if (!partitions.isEmpty()) {
                LOG.info("assigned {}", partitions);
            }
        }

        private void release(Collection<TopicPartition> partitions, boolean mayCommit) {
            InFlight job = inFlight;
            if (job == null || !partitions.contains(job.partition())) {
                return;
            }
            inFlight = null;
            Disposition d = job.result().isDone()
                    ? await(job, Duration.ZERO)
                    : abortAndWait(job, "partition " + job.partition() + " moved to another " + settings.role());
            if (d == Disposition.COMMIT && mayCommit) {
                commit(job);
            } else {
                LOG.info(
                        "{}@{} left uncommitted: its partition moved to another {}",
                        job.partition(),
                        job.offset(),
                        settings.role());
            }
            Set<TopicPartition> keep = new HashSet<>(consumer.assignment());
            keep.removeAll(partitions);
            consumer.resume(keep);
        }

        private void updateAssignment() {
            assignment = Set.copyOf(consumer.assignment());
        }
    }
}
