package io.animatediff.worker;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The consumer thread's handle on the job it handed to the job thread: when it was dequeued, and
 * an abort switch for shutdown and partition revocation. An aborted job stops at the next step
 * boundary and publishes nothing further; its message stays uncommitted, so it is delivered again.
 */
public final class JobControl {
    private final long dequeuedNanos;
    private final Map<String, Long> marks = new LinkedHashMap<>();
    private final CountDownLatch aborted = new CountDownLatch(1);
    private volatile String abortReason;
    private final PipelineBatch batch;

    public JobControl(long dequeuedNanos) {
        this(dequeuedNanos, null);
    }

    /** A job taken together with others: its pipeline step runs with {@code batch} (null: alone). */
    JobControl(long dequeuedNanos, PipelineBatch batch) {
        this.dequeuedNanos = dequeuedNanos;
        this.batch = batch;
    }

    /** The batch this job's pipeline step runs with, or null when it runs alone. */
    PipelineBatch batch() {
        return batch;
    }

    /** Tells the batch, if any, that this job will not reach its pipeline step (idempotent). */
    void leaveBatch() {
        if (batch != null) {
            batch.leave(this);
        }
    }

    /** {@link System#nanoTime()} when the message was dequeued. */
    public long dequeuedNanos() {
        return dequeuedNanos;
    }

    /** Records when a phase of the job ended (job thread only), for the log line of the job. */
    public void mark(String phase) {
        marks.put(phase, System.nanoTime());
    }

    /** {@code phase +N ms, ...} since dequeue, in the order marked. */
    public String timeline() {
        StringBuilder sb = new StringBuilder();
        marks.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ", ")
                .append(k)
                .append(" +")
                .append((v - dequeuedNanos) / 1_000_000)
                .append(" ms"));
        return sb.toString();
    }

    /** Stops the job at the next step boundary without a terminal event. */
    public void abort(String reason) {
        abortReason = reason;
        aborted.countDown();
    }

    public boolean isAborted() {
        return aborted.getCount() == 0;
    }

    /** Why the job was aborted, or null. */
    public String abortReason() {
        return abortReason;
    }

    /** Sleeps up to {@code d}; returns early (true) when the job is aborted. */
    public boolean sleepUnlessAborted(Duration d) throws InterruptedException {
        return aborted.await(d.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Throws {@link Aborted} when the job was aborted. */
    public void checkAborted() {
        if (isAborted()) {
            throw new Aborted(abortReason);
        }
    }

    /** The job was aborted: no terminal event, no commit. */
    public static final class Aborted extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public Aborted(String reason) {
            super("aborted: " + reason);
        }
    }
}
