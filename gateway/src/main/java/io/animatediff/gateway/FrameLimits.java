package io.animatediff.gateway;

import io.animatediff.common.protocol.ModelNames;
import io.animatediff.common.registry.ModelManifest;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * The most frames each motion module renders ({@code max_frames} in its manifest config; a
 * configured default when absent), cached for a TTL so submissions do not read manifests.
 */
public final class FrameLimits {
    private record Entry(int maxFrames, long expiresAt) {}

    private final Function<String, Optional<ModelManifest>> motionManifest;
    private final int defaultMaxFrames;
    private final long ttlNanos;
    private final LongSupplier nanoTime;
    private final ConcurrentHashMap<String, Entry> cache = new ConcurrentHashMap<>();

    public FrameLimits(
            Function<String, Optional<ModelManifest>> motionManifest,
            int defaultMaxFrames,
            Duration ttl,
            LongSupplier nanoTime) {
        if (defaultMaxFrames < 1) {
            throw new IllegalArgumentException("default max frames must be >= 1, got " + defaultMaxFrames
                    + ": set animatediff.validation.default-max-frames");
        }
        this.motionManifest = motionManifest;
        this.defaultMaxFrames = defaultMaxFrames;
        this.ttlNanos = ttl.toNanos();
        this.nanoTime = nanoTime;
    }

    /** Frames {@code motionModule} supports; the default for unknown or invalid names. */
    public int maxFrames(String motionModule) {
        if (!ModelNames.isValid(motionModule)) {
            return defaultMaxFrames;
        }
        long now = nanoTime.getAsLong();
        Entry e = cache.get(motionModule);
        if (e == null || now - e.expiresAt() >= 0) {
            int n = motionManifest
                    .apply(motionModule)
                    .flatMap(m -> {
                        var mf = m.maxFrames();
                        return mf.isPresent() ? Optional.of(mf.getAsInt()) : Optional.<Integer>empty();
                    })
                    .filter(v -> v >= 1)
                    .orElse(defaultMaxFrames);
            e = new Entry(n, now + ttlNanos);
            cache.put(motionModule, e);
        }
        return e.maxFrames();
    }

    /** Forgets cached limits (after a model was registered or deleted here). */
    public void invalidate() {
        cache.clear();
    }
}
