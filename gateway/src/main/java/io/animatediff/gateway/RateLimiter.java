package io.animatediff.gateway;

import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * A token bucket per key: {@code burst} tokens, refilled at {@code rate} per second; each request
 * takes one. A refused request learns how long until the next token ({@code Retry-After}).
 */
public final class RateLimiter {
    private final double ratePerNano;
    private final double burst;
    private final LongSupplier nanoTime;
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

    private static final class Bucket {
        double tokens;
        long updated;

        Bucket(double tokens, long updated) {
            this.tokens = tokens;
            this.updated = updated;
        }
    }

    public RateLimiter(double ratePerSecond, int burst) {
        this(ratePerSecond, burst, System::nanoTime);
    }

    RateLimiter(double ratePerSecond, int burst, LongSupplier nanoTime) {
        if (!(ratePerSecond > 0) || burst < 1) {
            throw new IllegalArgumentException("rate limit needs rate > 0 and burst >= 1, got rate " + ratePerSecond
                    + ", burst " + burst + ": set animatediff.rate-limit.rate and .burst");
        }
        this.ratePerNano = ratePerSecond / 1e9;
        this.burst = burst;
        this.nanoTime = nanoTime;
    }

    /**
     * Takes one token from {@code key}'s bucket.
     *
     * @return 0 when the request may proceed, otherwise the nanoseconds until a token is available
     */
    public long tryAcquire(String key) {
        long now = nanoTime.getAsLong();
        Bucket b = buckets.computeIfAbsent(key, k -> new Bucket(burst, now));
        synchronized (b) {
            b.tokens = Math.min(burst, b.tokens + (now - b.updated) * ratePerNano);
            b.updated = now;
            if (b.tokens >= 1) {
                b.tokens -= 1;
                return 0;
            }
            return (long) Math.ceil((1 - b.tokens) / ratePerNano);
        }
    }

    /** Whole seconds for {@code Retry-After} (at least 1). */
    public static long retryAfterSeconds(long waitNanos) {
        return Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
    }
}
