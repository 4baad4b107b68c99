package io.animatediff.worker;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loaded models in memory, least recently used evicted first once their bytes exceed the limit;
 * an evicted model is closed (its native weights freed). The entry being added or used is never
 * evicted, so a model larger than the limit still runs (alone). Thread-safe, but a value handed
 * out is not reference-counted: the worker runs one job at a time, and only a put or {@link
 * #makeRoom} evicts, both called by that one job.
 *
 * @param <K> key, e.g. (base content id, motion content id, motion norm)
 * @param <V> the loaded model
 */
public final class ModelMemoryCache<K, V extends AutoCloseable> implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelMemoryCache.class);

    private record Entry<V>(V value, long bytes) {}

    private final long limitBytes;
    private final WorkerMetrics metrics;
    private final LinkedHashMap<K, Entry<V>> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;

    public ModelMemoryCache(long limitBytes, WorkerMetrics metrics) {
        if (limitBytes < 0) {
            throw new IllegalArgumentException("cache limit must be >= 0 bytes, got " + limitBytes);
        }
        this.limitBytes = limitBytes;
        this.metrics = Objects.requireNonNull(metrics, "metrics");
    }

    /** The cached value (now most recently used), counting a hit or a miss. */
    public synchronized V get(K key) {
        Entry<V> e = entries.get(key);
        if (e == null) {
            metrics.modelCacheMiss();
            return null;
        }
        metrics.modelCacheHit();
        return e.value();
    }

    /**
     * Evicts least recently used entries until {@code incomingBytes} more fit under the limit (or
     * nothing is left to evict): call before loading a model so two never share memory needlessly.
     */
    public void makeRoom(long incomingBytes) {
        List<V> evicted;
        synchronized (this) {
            evicted = evictWhile(null, incomingBytes);
        }
        closeAll(evicted);
    }

    /** Adds a value of {@code size} bytes, evicting older entries beyond the limit. */
    public void put(K key, V value, long size) {
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, got " + size);
        }
        List<V> evicted = new ArrayList<>();
        synchronized (this) {
            Entry<V> old = entries.put(key, new Entry<>(value, size));
            if (old != null) {
                bytes -= old.bytes();
                if (old.value() != value) {
                    evicted.add(old.value());
                }
            }
            bytes += size;
            evicted.addAll(evictWhile(key, 0));
            metrics.modelCacheSize(bytes, entries.size());
        }
        closeAll(evicted);
    }

    /** Removes and closes a value (e.g. one a failed LoRA restore may have altered). */
    public void invalidate(K key) {
        Entry<V> e;
        synchronized (this) {
            e = entries.remove(key);
            if (e != null) {
                bytes -= e.bytes();
                metrics.modelCacheEviction();
                metrics.modelCacheSize(bytes, entries.size());
            }
        }
        if (e != null) {
            closeAll(List.of(e.value()));
        }
    }

    public synchronized long bytes() {
        return bytes;
    }

    public synchronized int size() {
        return entries.size();
    }

    public synchronized boolean contains(K key) {
        return entries.containsKey(key);
    }

    private List<V> evictWhile(K keep, long incoming) {
        List<V> out = new ArrayList<>();
        Iterator<Map.Entry<K, Entry<V>>> it = entries.entrySet().iterator();
        while (bytes + incoming > limitBytes && it.hasNext()) {
            Map.Entry<K, Entry<V>> e = it.next();
            if (e.getKey().equals(keep)) {
                continue;
            }
            it.remove();
            bytes -= e.getValue().bytes();
            out.add(e.getValue().value());
            metrics.modelCacheEviction();
            LOG.info(
                    "evicted model {} ({} MiB) from the memory cache",
                    e.getKey(),
                    e.getValue().bytes() >> 20);
        }
        metrics.modelCacheSize(bytes, entries.size());
        return out;
    }

    private static void closeAll(List<? extends AutoCloseable> values) {
        for (AutoCloseable v : values) {
            try {
                v.close();
            } catch (Exception e) {
                LOG.warn("closing an evicted model failed: {}", e.toString());
            }
        }
    }

    /** Closes every cached value. */
    @Override
    public void close() {
        List<V> all;
        synchronized (this) {
            all = new ArrayList<>();
            entries.values().forEach(e -> all.add(e.value()));
            entries.clear();
            bytes = 0;
            metrics.modelCacheSize(0, 0);
        }
        closeAll(all);
    }
}
