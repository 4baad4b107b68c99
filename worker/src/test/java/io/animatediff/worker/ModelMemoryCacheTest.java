package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ModelMemoryCacheTest {
    /** Stands in for a loaded model: remembers whether it was closed. */
    private static final class Loaded implements AutoCloseable {
        boolean closed;

        @Override
        public void close() {
            closed = true;
        }
    }

    private final WorkerMetrics metrics = new WorkerMetrics();
    private final ModelMemoryCache<String, Loaded> cache = new ModelMemoryCache<>(100, metrics);

    @Test
    void evictsTheLeastRecentlyUsedByBytesAndClosesIt() {
        Loaded a = new Loaded();
        Loaded b = new Loaded();
        Loaded c = new Loaded();
        cache.put("a", a, 40);
        cache.put("b", b, 40);
        assertSame(a, cache.get("a")); // a is now the most recently used
        cache.put("c", c, 40); // 120 > 100: b goes

        assertTrue(b.closed);
        assertFalse(a.closed);
        assertFalse(c.closed);
        assertNull(cache.get("b"));
        assertEquals(80, cache.bytes());
        assertEquals(2, cache.size());
        assertEquals(1, metrics.modelCacheEvictions());
        assertEquals(1, metrics.modelCacheHits());
        assertEquals(1, metrics.modelCacheMisses());
    }

    @Test
    void anEntryLargerThanTheLimitStaysAlone() {
        Loaded a = new Loaded();
        Loaded big = new Loaded();
        cache.put("a", a, 40);
        cache.put("big", big, 150);
        assertTrue(a.closed);
        assertFalse(big.closed);
        assertTrue(cache.contains("big"));
        assertEquals(150, cache.bytes());
    }

    @Test
    void makeRoomEvictsBeforeALoad() {
        Loaded a = new Loaded();
        Loaded b = new Loaded();
        cache.put("a", a, 50);
        cache.put("b", b, 30);
        cache.makeRoom(40); // 80 + 40 > 100: the oldest (a) goes
        assertTrue(a.closed);
        assertFalse(b.closed);
        assertEquals(30, cache.bytes());
    }

    @Test
    void invalidateAndCloseReleaseEverything() {
        Loaded a = new Loaded();
        Loaded b = new Loaded();
        cache.put("a", a, 10);
        cache.put("b", b, 10);
        cache.invalidate("a");
        assertTrue(a.closed);
        assertFalse(cache.contains("a"));
        cache.close();
        assertTrue(b.closed);
        assertEquals(0, cache.bytes());
        assertEquals(0, cache.size());
    }

    @Test
    void replacingAKeyClosesTheOldValue() {
        Loaded old = new Loaded();
        Loaded fresh = new Loaded();
        cache.put("a", old, 10);
        cache.put("a", fresh, 20);
        assertTrue(old.closed);
        assertFalse(fresh.closed);
        assertEquals(20, cache.bytes());
    }
}
