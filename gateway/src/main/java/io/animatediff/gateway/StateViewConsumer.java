package io.animatediff.gateway;

import io.animatediff.common.InvalidMessageException;
import io.animatediff.common.Json;
import io.animatediff.common.protocol.JobEvent;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Folds {@code animatediff.job-events} into a {@link JobStateView} on its own thread. No consumer
 * group: it assigns every partition and reads from the beginning, so every replica (and a
 * restarted gateway) rebuilds every job's state. It is caught up once it has read up to the end
 * offsets it found at startup; it refreshes the partition list and its lag periodically.
 */
public final class StateViewConsumer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(StateViewConsumer.class.getName());

    private final Supplier<Consumer<String, byte[]>> consumers;
    private final String topic;
    private final JobStateView view;
    private final Duration pollTimeout;
    private final Duration refreshInterval;
    private final Clock clock;

    private final AtomicLong lag = new AtomicLong(-1);
    private final AtomicLong invalidEvents = new AtomicLong();
    private final AtomicLong appliedEvents = new AtomicLong();
    private volatile boolean caughtUp;
    private volatile Instant lastContact = Instant.EPOCH;
    private volatile boolean running = true;
    private volatile Consumer<String, byte[]> consumer;
    private final Thread thread;

    /**
     * @param consumers makes the consumer (called once, on the view's thread): no group id,
     *     auto-commit off, String keys, byte[] values
     */
    public StateViewConsumer(
            Supplier<Consumer<String, byte[]>> consumers,
            String topic,
            JobStateView view,
            Duration pollTimeout,
            Duration refreshInterval,
            Clock clock) {
        this.consumers = consumers;
        this.topic = topic;
        this.view = view;
        this.pollTimeout = pollTimeout;
        this.refreshInterval = refreshInterval;
        this.clock = clock;
        this.thread = new Thread(this::run, "state-view-" + topic);
        this.thread.setDaemon(true);
    }

    public StateViewConsumer start() {
        thread.start();
        return this;
    }

    /** Whether every event that existed at startup has been folded in. */
    public boolean caughtUp() {
        return caughtUp;
    }

    /** Events on the topic not folded yet (as of the last refresh); -1 before the first. */
    public long lag() {
        return lag.get();
    }

    /** When the broker last answered (end offsets). */
    public Instant lastContact() {
        return lastContact;
    }

    /** Events that could not be read (logged and skipped). */
    public long invalidEvents() {
        return invalidEvents.get();
    }

    /** Events folded so far. */
    public long appliedEvents() {
        return appliedEvents.get();
    }

    private void run() {
        try (Consumer<String, byte[]> c = consumers.get()) {
            consumer = c;
            Set<TopicPartition> assigned = new HashSet<>();
            Map<TopicPartition, Long> startupEnds = null;
            long nextRefresh = 0;
            while (running) {
                try {
                    long now = System.nanoTime();
                    if (assigned.isEmpty() || now - nextRefresh >= 0) {
                        // 1. partitions (new ones start from the beginning), lag, reachability
                        assign(c, assigned);
                        nextRefresh = now + refreshInterval.toNanos();
                        if (assigned.isEmpty()) {
                            lastContact = clock.instant();
                            sleep(pollTimeout);
                            continue;
                        }
                        Map<TopicPartition, Long> ends = c.endOffsets(assigned, refreshInterval.multipliedBy(5));
                        lastContact = clock.instant();
                        if (startupEnds == null) {
                            startupEnds = ends;
                        }
                        long total = 0;
                        for (var e : ends.entrySet()) {
                            total += Math.max(0, e.getValue() - c.position(e.getKey()));
                        }
                        lag.set(total);
                    }
                    // 2. fold
                    ConsumerRecords<String, byte[]> records = c.poll(pollTimeout);
                    for (ConsumerRecord<String, byte[]> r : records) {
                        fold(r);
                    }
                    // 3. caught up with what existed at startup?
                    if (!caughtUp && startupEnds != null && reached(c, startupEnds)) {
                        caughtUp = true;
                        lag.set(0);
                        LOG.info("state view caught up: " + view.size() + " jobs from " + appliedEvents.get()
                                + " events");
                    }
                } catch (WakeupException e) {
                    if (running) {
                        throw e;
                    }
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "state view of " + topic + ": " + e.getMessage() + " (retrying)", e);
                    sleep(refreshInterval);
                }
            }
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "state view of " + topic + " stopped", e);
        }
    }

    private void assign(Consumer<String, byte[]> c, Set<TopicPartition> assigned) {
        List<PartitionInfo> infos = c.partitionsFor(topic, refreshInterval.multipliedBy(5));
        List<TopicPartition> fresh = new ArrayList<>();
        for (PartitionInfo p : infos == null ? List.<PartitionInfo>of() : infos) {
            TopicPartition tp = new TopicPartition(p.topic(), p.partition());
            if (!assigned.contains(tp)) {
                fresh.add(tp);
            }
        }
        if (!fresh.isEmpty()) {
            assigned.addAll(fresh);
            c.assign(assigned);
            c.seekToBeginning(fresh);
        }
    }

    private static boolean reached(Consumer<String, byte[]> c, Map<TopicPartition, Long> ends) {
        Map<TopicPartition, Long> pending = new HashMap<>(ends);
        pending.entrySet().removeIf(e -> c.position(e.getKey()) >= e.getValue());
        return pending.isEmpty();
    }

    private void fold(ConsumerRecord<String, byte[]> r) {
        if (r.value() == null) {
            return; // a tombstone: compaction removed the job on purpose
        }
        try {
            view.apply(Json.read(r.value(), JobEvent.class));
            appliedEvents.incrementAndGet();
        } catch (InvalidMessageException | java.io.UncheckedIOException e) {
            invalidEvents.incrementAndGet();
            LOG.warning("skipping unreadable job event at " + r.topic() + "-" + r.partition() + "@" + r.offset()
                    + " (key " + r.key() + "): " + e.getMessage());
        }
    }

    private void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    @Override
    public void close() {
        running = false;
        Consumer<String, byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
