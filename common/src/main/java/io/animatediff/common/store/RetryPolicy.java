package io.animatediff.common.store;

import java.time.Duration;

/**
 * How often and how patiently the object store retries a transient failure (connection refused or
 * reset, timeouts, HTTP 5xx, 408, 429, S3 SlowDown/InternalError). Attempt n (1-based) waits
 * {@code min(maxBackoff, initialBackoff * 2^(n-1))} before the next.
 *
 * @param maxAttempts total attempts including the first (>= 1)
 * @param initialBackoff wait after the first failure
 * @param maxBackoff longest wait between attempts
 */
public record RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
    /** Three attempts, 200 ms then 400 ms apart. */
    public static final RetryPolicy DEFAULT = new RetryPolicy(3, Duration.ofMillis(200), Duration.ofSeconds(2));

    /** A single attempt. */
    public static final RetryPolicy NONE = new RetryPolicy(1, Duration.ZERO, Duration.ZERO);

    public RetryPolicy {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be >= 1, got " + maxAttempts);
        }
        if (initialBackoff == null || maxBackoff == null || initialBackoff.isNegative() || maxBackoff.isNegative()) {
            throw new IllegalArgumentException(
                    "backoffs must be non-negative durations, got " + initialBackoff + ", " + maxBackoff);
        }
    }

    /** Wait after failed attempt {@code attempt} (1-based). */
    public Duration backoff(int attempt) {
        int shift = Math.min(Math.max(attempt - 1, 0), 30);
        Duration d = initialBackoff.multipliedBy(1L << shift);
        return d.compareTo(maxBackoff) > 0 ? maxBackoff : d;
    }
}
