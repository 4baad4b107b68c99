package io.animatediff.worker;

import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.CancelRequest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads {@code animatediff.cancel} on its own thread with no consumer group: every partition
 * assigned, starting at the first record of the last {@code lookback}, so a worker knows every
 * recent cancel, including those sent before it started. Keeps the cancelled job ids for {@code
 * lookback} after they arrive. {@link #awaitCaughtUp} returns once the records present at start
 * have been read, so a job cancelled while queued is never started by a fresh worker.
 */
public final class CancelListener implements Runnable, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CancelListener.class);
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration REFRESH = Duration.ofSeconds(30);

    private final KafkaConsumer<String, byte[]> consumer;
    private final String clientId;
    private final Duration lookback;
    private final Clock clock;
    private final Map<String, Instant> cancelled = new ConcurrentHashMap<>();
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private final Map<TopicPartition, Long> startEnd = new HashMap<>();
    private volatile boolean stopping;
    private Thread thread;

    public CancelListener(String bootstrapServers, String clientId, Duration lookback) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId + "-cancel");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.clientId = clientId;
        this.lookback = lookback;
        this.clock = Clock.systemUTC();
    }

    /** Starts the listener thread. */
    public synchronized void start() {
        if (thread != null) {
            throw new IllegalStateException("cancel listener already started");
        }
        thread = new Thread(this, "worker-cancels-" + clientId);
        thread.setDaemon(true);
        thread.start();
    }

    /** Whether a cancel for this job arrived within the lookback. */
    public boolean isCancelled(String jobId) {
        return cancelled.containsKey(jobId);
    }

    /** Records a cancel (also used when the request is known by other means). */
    public void cancel(String jobId) {
        cancelled.put(jobId, clock.instant());
    }

    /** Waits until the cancels present when the listener started have been read. */
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        return caughtUp.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    public boolean isCaughtUp() {
        return caughtUp.getCount() == 0;
    }

    @Override
    public void run() {
        try {
            List<TopicPartition> assigned = List.of();
            long nextRefresh = 0;
            while (!stopping) {
                if (System.nanoTime() - nextRefresh >= 0) {
                    assigned = refresh(assigned);
                    nextRefresh = System.nanoTime() + REFRESH.toNanos();
                    prune();
                }
                if (assigned.isEmpty()) {
                    Thread.sleep(POLL.toMillis());
                    nextRefresh = 0;
                    continue;
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(POLL)) {
                    accept(r);
                }
                checkCaughtUp();
            }
        } catch (WakeupException e) {
            if (!stopping) {
                LOG.error("cancel listener woken up unexpectedly", e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("cancel listener stopped: cancels are no longer honoured by this worker", e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /** (Re)assigns every partition of the topic; new partitions start at the lookback too. */
    private List<TopicPartition> refresh(List<TopicPartition> current) {
        List<PartitionInfo> infos = consumer.partitionsFor(Topics.CANCEL, Duration.ofSeconds(10));
        if (infos == null || infos.isEmpty()) {
            return current; // topic not created yet
        }
        List<TopicPartition> all = new ArrayList<>();
        infos.forEach(i -> all.add(new TopicPartition(i.topic(), i.partition())));
        if (all.size() == current.size()) {
            return current;
        }
        List<TopicPartition> added = new ArrayList<>(all);
        added.removeAll(current);
        consumer.assign(all);
        long since = clock.instant().minus(lookback).toEpochMilli();
        Map<TopicPartition, Long> query = new HashMap<>();
        added.forEach(tp -> query.put(tp, since));
        Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query);
        Map<TopicPartition, Long> ends = consumer.endOffsets(added);
        for (TopicPartition tp : added) {
            OffsetAndTimestamp o = found.get(tp);
            consumer.seek(tp, o == null ? ends.get(tp) : o.offset());
            startEnd.put(tp, ends.get(tp));
        }
        return all;
    }

    private void checkCaughtUp() {
        if (isCaughtUp()) {
            return;
        }
        for (Map.Entry<TopicPartition, Long> e : startEnd.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return;
            }
        }
        caughtUp.countDown();
        LOG.info("cancel listener caught up: {} cancelled job ids known", cancelled.size());
    }

    private void accept(ConsumerRecord<String, byte[]> r) {
        try {
            CancelRequest c = Json.read(r.value(), CancelRequest.class);
            cancelled.put(c.jobId(), clock.instant());
            LOG.info("cancel received for job {}", c.jobId());
        } catch (RuntimeException e) { // InvalidMessageException, a null (tombstone) value
            LOG.warn(
                    "ignoring unreadable cancel request at {}-{}@{}: {}",
                    r.topic(),
                    r.partition(),
                    r.offset(),
                    e.getMessage());
        }
    }

    private void prune() {
        Instant cutoff = clock.instant().minus(lookback);
        cancelled.values().removeIf(t -> t.isBefore(cutoff));
    }

    @Override
    public void close() throws InterruptedException {
        stopping = true;
        consumer.wakeup();
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            t.join(10_000);
        } else {
            consumer.close(Duration.ofSeconds(5));
        }
    }
}
