package io.animatediff.common.registry;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.validation.ModelCatalog;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The {@link ModelCatalog} of the validators, answered by the registry (one HEAD request per
 * lookup). With a positive {@code ttl} answers are cached that long, so a gateway taking hundreds
 * of submissions per second does not ask the store for every one; a model registered or deleted
 * is seen after at most {@code ttl}.
 */
public final class RegistryModelCatalog implements ModelCatalog {
    private record Entry(boolean present, long expiresAtNanos) {}

    private final ModelRegistry registry;
    private final long ttlNanos;
    private final LongSupplier nanoTime;
    private final ConcurrentHashMap<String, Entry> cache = new ConcurrentHashMap<>();

    public RegistryModelCatalog(ModelRegistry registry, Duration ttl) {
        this(registry, ttl, System::nanoTime);
    }

    RegistryModelCatalog(ModelRegistry registry, Duration ttl, LongSupplier nanoTime) {
        this.registry = Objects.requireNonNull(registry, "registry");
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("ttl must be >= 0, got " + ttl);
        }
        this.ttlNanos = ttl.toNanos();
        this.nanoTime = nanoTime;
    }

    @Override
    public boolean contains(ModelKind kind, String name) {
        if (ttlNanos == 0) {
            return registry.exists(kind, name);
        }
        String key = kind.json() + "/" + name;
        long now = nanoTime.getAsLong();
        Entry e = cache.get(key);
        if (e == null || now - e.expiresAtNanos() >= 0) {
            e = new Entry(registry.exists(kind, name), now + ttlNanos);
            cache.put(key, e);
        }
        return e.present();
    }

    /** Forgets cached answers (e.g. right after this process registered or deleted a model). */
    public void invalidate() {
        cache.clear();
    }
}
