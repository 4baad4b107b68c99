package io.animatediff.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
    final AtomicLong now = new AtomicLong(1_000);

    @Test
    void aBurstPassesThenRefillsAtTheRate() {
        RateLimiter limiter = new RateLimiter(10, 3, now::get);
        for (int i = 0; i < 3; i++) {
            assertEquals(0, limiter.tryAcquire("k"), "request " + i + " of the burst");
        }
        long wait = limiter.tryAcquire("k");
        // one token takes 1/10 s
        assertTrue(Math.abs(wait - 100_000_000L) <= 1, "wait " + wait);
        assertEquals(1, RateLimiter.retryAfterSeconds(wait));
        now.addAndGet(100_000_000L);
        assertEquals(0, limiter.tryAcquire("k"));
        // buckets are per key
        assertEquals(0, limiter.tryAcquire("other"));
    }

    @Test
    void idleTimeNeverAccumulatesMoreThanTheBurst() {
        RateLimiter limiter = new RateLimiter(1000, 2, now::get);
        now.addAndGet(60_000_000_000L);
        assertEquals(0, limiter.tryAcquire("k"));
        assertEquals(0, limiter.tryAcquire("k"));
        assertTrue(limiter.tryAcquire("k") > 0);
    }

    @Test
    void retryAfterRoundsUpToWholeSeconds() {
        assertEquals(1, RateLimiter.retryAfterSeconds(1));
        assertEquals(2, RateLimiter.retryAfterSeconds(1_000_000_001L));
    }

    @Test
    void nonsenseLimitsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new RateLimiter(0, 1));
        assertThrows(IllegalArgumentException.class, () -> new RateLimiter(1, 0));
    }
}
