package io.animatediff.worker;

import io.animatediff.common.Topics;
import io.animatediff.worker.JobRunner.Disposition;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
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
 *       had finished), closes the consumer so the group rebalances at once;
 *   <li>with {@link Batching} (the worker's {@code ANIMATEDIFF_BATCH_MAX} > 1), up to {@code max}
 *       records of one poll whose batch keys are equal (compatible jobs) are taken together, each on
 *       its own job thread meeting the others at a {@link PipelineBatch}; the records left out are
 *       read again afterwards (within a partition only a prefix joins, so no offset is skipped).
 *       Offsets are committed once every job of the group is done, per partition up to the first
 *       job that was not {@link Disposition#COMMIT}ted, which is read again.
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
    private final Batching batching;
    private final KafkaConsumer<String, byte[]> consumer;
    private final ExecutorService jobThread;
    private volatile boolean stopping;
    private volatile boolean running;
    private volatile Set<TopicPartition> assignment = Set.of();
    /** The records being worked on: empty when idle, several when taken as a batch. */
    private final List<InFlight> inFlight = new ArrayList<>();

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

    /**
     * Taking compatible jobs together: at most {@code max} records of one poll whose {@code key} is
     * the same non-null string (null: the record runs alone). {@link #OFF}: one record at a time.
     */
    public record Batching(int max, Function<ConsumerRecord<String, byte[]>, String> key) {
        public static final Batching OFF = new Batching(1, r -> null);

        public Batching {
            if (max < 1) {
                throw new IllegalArgumentException("batch max " + max + " must be >= 1 (1: no batching)");
            }
        }
    }

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
                runner::handle,
                new Batching(config.batchMax(), JobRunner::batchKey));
    }

    public JobConsumer(Settings settings, Handler runner) {
        this(settings, runner, Batching.OFF);
    }

    public JobConsumer(Settings settings, Handler runner, Batching batching) {
        this.settings = settings;
        this.runner = runner;
        this.batching = batching;
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, settings.groupId());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, settings.memberId() + "-jobs");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(batching.max()));
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        p.put(
                ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG,
                Long.toString(settings.maxPollInterval().toMillis()));
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, Long.toString(SESSION_TIMEOUT.toMillis()));
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Long.toString(SESSION_TIMEOUT.toMillis() / 4));
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        AtomicInteger threads = new AtomicInteger();
        this.jobThread = Executors.newFixedThreadPool(batching.max(), r -> {
            int n = threads.getAndIncrement();
            Thread t = new Thread(r, settings.role() + "-job-" + settings.memberId() + (n == 0 ? "" : "-" + n));
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
                List<ConsumerRecord<String, byte[]>> fetched = new ArrayList<>();
                consumer.poll(settings.pollTimeout()).forEach(fetched::add);
                if (batching.max() > 1 && !fetched.isEmpty() && fetched.size() < batching.max()) {
                    consumer.poll(Duration.ZERO).forEach(fetched::add); // what was already fetched too
                    Set<TopicPartition> owned = consumer.assignment(); // a rebalance may run in that poll
                    fetched.removeIf(r -> !owned.contains(partition(r)));
                }
                if (!fetched.isEmpty()) {
                    if (inFlight.isEmpty()) {
                        start(fetched);
                    } else {
                        rewind(fetched); // one job (or batch) at a time: read them again afterwards
                    }
                }
                if (!inFlight.isEmpty()
                        && inFlight.stream().allMatch(j -> j.result().isDone())) {
                    finish();
                }
                if (inFlight.isEmpty() && resumeAfterNanos != 0 && System.nanoTime() - resumeAfterNanos >= 0) {
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

    private static TopicPartition partition(ConsumerRecord<String, byte[]> r) {
        return new TopicPartition(r.topic(), r.partition());
    }

    /** Seeks each partition back to its first record here and pauses it: the records are read again. */
    private void rewind(List<ConsumerRecord<String, byte[]>> records) {
        Set<TopicPartition> seen = new HashSet<>();
        for (ConsumerRecord<String, byte[]> r : records) {
            TopicPartition tp = partition(r);
            if (seen.add(tp)) { // records of a partition come in offset order: the first is the lowest
                consumer.seek(tp, r.offset());
            }
        }
        consumer.pause(seen);
    }

    /** The batch key of a record, or null (runs alone) when there is none or it cannot be read. */
    private String batchKey(ConsumerRecord<String, byte[]> r) {
        try {
            return batching.key().apply(r);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /**
     * Starts the first record, with up to {@code max - 1} later ones of the same batch key (a
     * partition's records join only as a prefix); the others are rewound.
     */
    private void start(List<ConsumerRecord<String, byte[]>> fetched) {
        List<ConsumerRecord<String, byte[]>> group = new ArrayList<>(List.of(fetched.get(0)));
        List<ConsumerRecord<String, byte[]>> rest = new ArrayList<>();
        String key = batching.max() > 1 ? batchKey(fetched.get(0)) : null;
        Set<TopicPartition> leftOut = new HashSet<>();
        for (ConsumerRecord<String, byte[]> r : fetched.subList(1, fetched.size())) {
            TopicPartition tp = partition(r);
            if (key != null && group.size() < batching.max() && !leftOut.contains(tp) && key.equals(batchKey(r))) {
                group.add(r);
            } else {
                leftOut.add(tp);
                rest.add(r);
            }
        }
        if (!rest.isEmpty()) {
            rewind(rest);
        }
        PipelineBatch batch = group.size() > 1
                ? new PipelineBatch(group.size(), settings.role() + "-batch-" + settings.memberId())
                : null;
        long now = System.nanoTime();
        for (ConsumerRecord<String, byte[]> record : group) {
            JobControl control = new JobControl(now, batch);
            Future<Disposition> result = jobThread.submit(() -> runner.handle(record, control));
            inFlight.add(new InFlight(partition(record), record.offset(), result, control));
            LOG.debug("took {}@{} (key {})", partition(record), record.offset(), record.key());
        }
        if (batch != null) {
            LOG.info(
                    "took {} compatible jobs together: {}",
                    group.size(),
                    group.stream().map(ConsumerRecord::key).toList());
        }
        consumer.pause(consumer.assignment());
    }

    private void finish() {
        Map<InFlight, Disposition> done = new LinkedHashMap<>();
        for (InFlight job : inFlight) {
            done.put(job, await(job, Duration.ZERO));
        }
        inFlight.clear();
        if (settle(done, true, Set.of())) {
            // read the released records again after a pause (Kafka or a bug made them unfinishable just now)
            resumeAfterNanos = System.nanoTime() + RELEASE_BACKOFF.toNanos();
        } else {
            consumer.resume(consumer.paused());
        }
    }

    /**
     * Commits, per partition, the offsets up to the first job that was not committable (when {@code
     * mayCommit}) and seeks that partition back to it unless it is {@code moving}; returns whether
     * any job was left uncommitted.
     */
    private boolean settle(Map<InFlight, Disposition> done, boolean mayCommit, Collection<TopicPartition> moving) {
        Map<TopicPartition, List<InFlight>> byPartition = new LinkedHashMap<>();
        done.keySet()
                .forEach(j -> byPartition
                        .computeIfAbsent(j.partition(), k -> new ArrayList<>())
                        .add(j));
        Map<TopicPartition, OffsetAndMetadata> offsets =
                new TreeMap<>(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        boolean released = false;
        for (Map.Entry<TopicPartition, List<InFlight>> e : byPartition.entrySet()) {
            TopicPartition tp = e.getKey();
            List<InFlight> jobs = e.getValue();
            jobs.sort(Comparator.comparingLong(InFlight::offset));
            for (InFlight job : jobs) {
                if (done.get(job) != Disposition.COMMIT || !mayCommit) {
                    released = true;
                    if (!moving.contains(tp) && consumer.assignment().contains(tp)) {
                        consumer.seek(tp, job.offset());
                    }
                    break;
                }
                offsets.put(tp, new OffsetAndMetadata(job.offset() + 1));
            }
        }
        commit(offsets);
        return released;
    }

    private void commit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        if (offsets.isEmpty()) {
            return;
        }
        try {
            try {
                consumer.commitSync(offsets);
            } catch (WakeupException e) {
                // shutdown raced the commit: commit anyway (a wakeup fires once), then stop
                consumer.commitSync(offsets);
                throw e;
            }
        } catch (WakeupException e) {
            throw e;
        } catch (KafkaException e) {
            // e.g. the partition moved in a rebalance: the new owner runs the job again (same keys)
            LOG.warn("commit of {} failed: {}", offsets, e.toString());
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

    /**
     * Aborts the jobs that are still running (all first, so a batch drops them at one step boundary)
     * and waits for each; returns every job's disposition.
     */
    private static Map<InFlight, Disposition> abortAndWait(List<InFlight> jobs, String reason) {
        for (InFlight job : jobs) {
            if (!job.result().isDone()) {
                job.control().abort(reason);
            }
        }
        Map<InFlight, Disposition> out = new LinkedHashMap<>();
        for (InFlight job : jobs) {
            out.put(job, job.result().isDone() ? await(job, Duration.ZERO) : await(job, ABORT_WAIT));
        }
        return out;
    }

    private void shutdown() {
        try {
            if (!inFlight.isEmpty()) {
                List<InFlight> jobs = new ArrayList<>(inFlight);
                inFlight.clear();
                Map<InFlight, Disposition> done = abortAndWait(jobs, settings.role() + " shutting down");
                if (settle(done, true, consumer.assignment())) {
                    LOG.info("left {} job(s) uncommitted for another {}", jobs.size(), settings.role());
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
            if (!inFlight.isEmpty() && !partitions.isEmpty()) {
                consumer.pause(partitions);
            }
            updateAssignment();
            if (!partitions.isEmpty()) {
                LOG.info("assigned {}", partitions);
            }
        }

        private void release(Collection<TopicPartition> partitions, boolean mayCommit) {
            List<InFlight> moving = inFlight.stream()
                    .filter(j -> partitions.contains(j.partition()))
                    .toList();
            if (moving.isEmpty()) {
                return;
            }
            inFlight.removeAll(moving);
            Map<InFlight, Disposition> done = abortAndWait(moving, "partition moved to another " + settings.role());
            if (settle(done, mayCommit, partitions)) {
                LOG.info(
                        "{} left (partly) uncommitted: its partition moved to another {}",
                        moving.stream()
                                .map(j -> j.partition() + "@" + j.offset())
                                .toList(),
                        settings.role());
            }
            if (inFlight.isEmpty()) {
                Set<TopicPartition> keep = new HashSet<>(consumer.assignment());
                keep.removeAll(partitions);
                consumer.resume(keep);
            }
        }

        private void updateAssignment() {
            assignment = Set.copyOf(consumer.assignment());
        }
    }
}
