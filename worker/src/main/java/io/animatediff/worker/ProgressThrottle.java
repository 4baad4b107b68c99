package io.animatediff.worker;

/**
 * Decides which denoising steps get a PROGRESS event: at most one per {@code interval}, and always
 * the last step, so a fast model does not flood the events topic and the final step is never lost.
 * Not thread-safe (one per job).
 */
public final class ProgressThrottle {
    private final long intervalNanos;
    private long lastSentNanos;

    /**
     * @param intervalNanos shortest gap between two events
     * @param startNanos when the previous event (RUNNING) was sent
     */
    public ProgressThrottle(long intervalNanos, long startNanos) {
        if (intervalNanos < 0) {
            throw new IllegalArgumentException("interval must be >= 0 ns, got " + intervalNanos);
        }
        this.intervalNanos = intervalNanos;
        this.lastSentNanos = startNanos;
    }

    /** Whether step {@code step} of {@code total}, finished at {@code nowNanos}, is published. */
    public boolean shouldSend(int step, int total, long nowNanos) {
        if (step >= total || nowNanos - lastSentNanos >= intervalNanos) {
            lastSentNanos = nowNanos;
            return true;
        }
        return false;
    }
}
