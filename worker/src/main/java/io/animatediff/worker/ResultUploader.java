package io.animatediff.worker;

import io.animatediff.common.protocol.OutputFormat;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.ObjectStoreException;
import io.animatediff.common.store.PutOptions;
import io.animatediff.common.store.PutResult;
import io.animatediff.engine.media.OutputType;
import io.animatediff.engine.pipeline.AnimationResult;
import io.animatediff.engine.pipeline.AnimationWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Encodes a result with the engine's {@link AnimationWriter} into a scratch folder and uploads it
 * under the contract's keys:
 *
 * <pre>
 * results/&lt;jobId&gt;/animation.gif             gif
 * results/&lt;jobId&gt;/animation.mp4             mp4
 * results/&lt;jobId&gt;/frames/frame_0000.png ...  png (one object per frame)
 * results/&lt;jobId&gt;/frames.safetensors        frames: tensor "frames" (F, 3, H, W) float32 in [0, 1]
 * </pre>
 *
 * The keys depend only on the job id and the formats, so a redelivered job overwrites the same
 * objects (with the same bytes: the seed is fixed in the job).
 */
public final class ResultUploader {
    /** How long an upload waits out an unreachable store before the attempt fails. */
    public static final Duration DEFAULT_PATIENCE = Duration.ofSeconds(90);

    private static final Logger LOG = LoggerFactory.getLogger(ResultUploader.class);
    private static final Duration FIRST_WAIT = Duration.ofMillis(500);
    private static final Duration LONGEST_WAIT = Duration.ofSeconds(5);

    private final ObjectStore store;
    private final Path scratch;
    private final Duration patience;

    public ResultUploader(ObjectStore store, Path scratch) {
        this(store, scratch, DEFAULT_PATIENCE);
    }

    /**
     * @param patience how long one object's upload keeps retrying a transient store failure
     *     (connection refused, 5xx) with backoff before it fails the attempt
     */
    public ResultUploader(ObjectStore store, Path scratch, Duration patience) {
        this.store = Objects.requireNonNull(store, "store");
        this.scratch = Objects.requireNonNull(scratch, "scratch");
        this.patience = Objects.requireNonNull(patience, "patience");
    }

    /** Hears each wait of an upload that waits out a storage outage (before the wait begins). */
    @FunctionalInterface
    public interface StorageWait {
        /** Ignores every wait. */
        StorageWait NONE = (key, attempt, waited, retryIn, error) -> {};

        /**
         * @param key the object being written
         * @param attempt the attempt that just failed (1 for the first)
         * @param waited time since the first attempt
         * @param retryIn wait before the next attempt
         * @param error why the attempt failed
         */
        void waiting(String key, int attempt, Duration waited, Duration retryIn, String error);
    }

    /** {@code results/<jobId>/}. */
    public static String prefix(String jobId) {
        return "results/" + jobId + "/";
    }

    /**
     * Deletes objects under {@code results/<jobId>/} that this result set does not hold: leftovers
     * of an earlier attempt with other formats, or of a store that died mid-write (S3Proxy's
     * filesystem backend leaves its temporary {@code <name>-<uuid>} file behind when killed), so
     * the stored set is exactly the reported one. Best effort: a failure is logged.
     */
    private void prune(String jobId, List<ResultObject> keep) {
        java.util.Set<String> wanted = new java.util.HashSet<>();
        keep.forEach(r -> wanted.add(r.key()));
        try {
            for (var o : store.list(prefix(jobId))) {
                if (!wanted.contains(o.key())) {
                    store.delete(o.key());
                    LOG.info("job {}: deleted {}, which is not part of its results", jobId, o.key());
                }
            }
        } catch (ObjectStoreException e) {
            LOG.warn("job {}: could not check {} for leftovers: {}", jobId, prefix(jobId), e.getMessage());
        }
    }

    /**
     * Deletes whatever an earlier attempt stored under {@code results/<jobId>/} (best effort: a
     * failure is logged, the job still ends FAILED).
     */
    public void deleteResults(String jobId) {
        try {
            int n = store.deletePrefix(prefix(jobId));
            if (n > 0) {
                LOG.info("job {}: deleted {} result objects of an earlier attempt", jobId, n);
            }
        } catch (ObjectStoreException e) {
            LOG.warn("job {}: could not delete the results of an earlier attempt: {}", jobId, e.getMessage());
        }
    }

    /**
     * Encodes and uploads every requested format, in request order; returns what was stored.
     *
     * @param onWait told before each wait of an upload that waits out a storage outage
     */
    public List<ResultObject> write(
            String jobId, AnimationResult result, List<OutputFormat> formats, double fps, StorageWait onWait)
            throws IOException {
        Files.createDirectories(scratch);
        Path dir = Files.createTempDirectory(scratch, jobId + "-");
        try {
            List<ResultObject> out = new ArrayList<>();
            for (OutputFormat f : formats) {
                switch (f) {
                    case GIF ->
                        upload(
                                out,
                                f,
                                AnimationWriter.write(result, OutputType.GIF, fps, dir.resolve("animation.gif")),
                                jobId,
                                "",
                                onWait);
                    case MP4 ->
                        upload(
                                out,
                                f,
                                AnimationWriter.write(result, OutputType.MP4, fps, dir.resolve("animation.mp4")),
                                jobId,
                                "",
                                onWait);
                    case PNG ->
                        upload(
                                out,
                                f,
                                AnimationWriter.write(result, OutputType.PNG, fps, dir.resolve("frames")),
                                jobId,
                                "frames/",
                                onWait);
                    case FRAMES ->
                        upload(
                                out,
                                f,
                                AnimationWriter.write(
                                        result, OutputType.FRAMES, fps, dir.resolve("frames.safetensors")),
                                jobId,
                                "",
                                onWait);
                }
            }
            prune(jobId, out);
            return out;
        } finally {
            ModelDiskCache.deleteTree(dir);
        }
    }

    /**
     * A put that waits out a storage outage: transient failures are retried with exponential
     * backoff (0.5 s doubling to 5 s) for up to {@link #patience}, each wait logged as a warning
     * naming the job, the key and how long it has waited (and counted by the caller's metrics via
     * the log); a permanent failure or an exhausted patience throws.
     */
    private PutResult putPatiently(String jobId, String key, Path file, OutputFormat f, StorageWait onWait) {
        long start = System.nanoTime();
        Duration wait = FIRST_WAIT;
        for (int attempt = 1; ; attempt++) {
            try {
                PutResult r = store.put(key, file, PutOptions.DEFAULT.withContentType(f.contentType()));
                if (attempt > 1) {
                    LOG.info(
                            "job {}: storage is back, stored {} after {} attempts ({} ms)",
                            jobId,
                            key,
                            attempt,
                            (System.nanoTime() - start) / 1_000_000);
                }
                return r;
            } catch (ObjectStoreException e) {
                long waited = System.nanoTime() - start;
                if (!e.isTransient() || waited + wait.toNanos() > patience.toNanos()) {
                    throw e;
                }
                LOG.warn(
                        "job {}: storage unavailable while writing {} (attempt {}, waited {} of {} s): {}; retrying in {} ms",
                        jobId,
                        key,
                        attempt,
                        waited / 1_000_000_000L,
                        patience.toSeconds(),
                        e.getMessage(),
                        wait.toMillis());
                try {
                    onWait.waiting(key, attempt, Duration.ofNanos(waited), wait, e.getMessage());
                } catch (RuntimeException listenerFailure) {
                    LOG.warn("job {}: could not report the wait for storage: {}", jobId, listenerFailure.toString());
                }
                try {
                    Thread.sleep(wait.toMillis());
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                wait = wait.multipliedBy(2).compareTo(LONGEST_WAIT) > 0 ? LONGEST_WAIT : wait.multipliedBy(2);
            }
        }
    }

    private void upload(
            List<ResultObject> out, OutputFormat f, List<Path> files, String jobId, String sub, StorageWait onWait) {
        for (Path file : files) {
            String key = prefix(jobId) + sub + file.getFileName();
            PutResult r = putPatiently(jobId, key, file, f, onWait);
            out.add(new ResultObject(f.json(), key, r.size(), r.sha256()));
        }
    }
}
