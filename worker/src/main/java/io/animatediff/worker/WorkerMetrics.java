package io.animatediff.worker;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

/**
 * The worker's counters and gauges, rendered as Prometheus text (exposition format 0.0.4) at {@code
 * /metrics}. Thread-safe; plain Java so the worker needs no metrics library.
 */
public final class WorkerMetrics {
    /** How a dequeued message ended. */
    public enum Outcome {
        SUCCEEDED,
        FAILED,
        CANCELLED,
        /** A retryable failure re-published for another attempt. */
        RETRIED,
        /** Left uncommitted (shutdown, partition revoked, Kafka unavailable): another delivery follows. */
        RELEASED;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final LongAdder modelCacheHits = new LongAdder();
    private final LongAdder modelCacheMisses = new LongAdder();
    private final LongAdder modelCacheEvictions = new LongAdder();
    private final AtomicLong modelCacheBytes = new AtomicLong();
    private final AtomicLong modelCacheEntries = new AtomicLong();
    private final LongAdder diskCacheHits = new LongAdder();
    private final LongAdder diskCacheMisses = new LongAdder();
    private final LongAdder downloadedBytes = new LongAdder();
    private final LongAdder diskCacheEvictions = new LongAdder();
    private final LongAdder diskCacheEvictedBytes = new LongAdder();
    private final LongAdder deadLettered = new LongAdder();
    private final LongAdder poisonMessages = new LongAdder();
    private final Map<Outcome, LongAdder> jobs = new ConcurrentHashMap<>();
    private final DoubleAdder firstStepSeconds = new DoubleAdder();
    private final LongAdder firstStepCount = new LongAdder();
    private final AtomicLong lastFirstStepNanos = new AtomicLong(-1);
    private final DoubleAdder jobSeconds = new DoubleAdder();
    private final LongAdder jobCount = new LongAdder();
    private final Map<String, DoubleAdder> phaseSeconds = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> phaseCount = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> failures = new ConcurrentHashMap<>();
    private final LongAdder denoiseSteps = new LongAdder();
    private final AtomicLong lastStepsPerSecondMilli = new AtomicLong();
    private final AtomicLong busy = new AtomicLong();
    private final LongAdder batches = new LongAdder();
    private final LongAdder batchedJobs = new LongAdder();
    private final LongAdder nativeHeapTrims = new LongAdder();
    private final LongAdder nativeHeapReleasedBytes = new LongAdder();
    private volatile BooleanSupplier ready = () -> false;

    public void modelCacheHit() {
        modelCacheHits.increment();
    }

    public void modelCacheMiss() {
        modelCacheMisses.increment();
    }

    public void modelCacheEviction() {
        modelCacheEvictions.increment();
    }

    /** Current size of the in-memory model cache. */
    public void modelCacheSize(long bytes, int entries) {
        modelCacheBytes.set(bytes);
        modelCacheEntries.set(entries);
    }

    /** A model file found verified in the disk cache. */
    public void diskCacheHit() {
        diskCacheHits.increment();
    }

    /** A model file downloaded (and verified) into the disk cache. */
    public void diskCacheMiss(long bytes) {
        diskCacheMisses.increment();
        downloadedBytes.add(bytes);
    }

    public void job(Outcome outcome) {
        jobs.computeIfAbsent(outcome, o -> new LongAdder()).increment();
    }

    public void deadLetter() {
        deadLettered.increment();
    }

    public void poisonMessage() {
        poisonMessages.increment();
    }

    /** Time from dequeue to the start of the first denoising step. */
    public void timeToFirstStep(long nanos) {
        firstStepSeconds.add(nanos / 1e9);
        firstStepCount.increment();
        lastFirstStepNanos.set(nanos);
    }

    /** Time from dequeue to the message's disposition. */
    public void jobDuration(long nanos) {
        jobSeconds.add(nanos / 1e9);
        jobCount.increment();
    }

    /** Phases of a job timed by {@link #phase}: queue, load, denoise, decode, upload. */
    public static final List<String> PHASES = List.of("queue", "load", "denoise", "decode", "upload");

    /** Time one job spent in a phase ({@link #PHASES}). */
    public void phase(String phase, long nanos) {
        phaseSeconds.computeIfAbsent(phase, k -> new DoubleAdder()).add(Math.max(0, nanos) / 1e9);
        phaseCount.computeIfAbsent(phase, k -> new LongAdder()).increment();
    }

    /** A finished denoising loop: its steps and duration (steps per second of the last job as a gauge). */
    public void denoised(int steps, long nanos) {
        denoiseSteps.add(steps);
        phase("denoise", nanos);
        if (nanos > 0) {
            lastStepsPerSecondMilli.set(Math.round(steps * 1e12 / nanos));
        }
    }

    /** A failed attempt, by failure code. */
    public void failure(String code) {
        failures.computeIfAbsent(code, k -> new LongAdder()).increment();
    }

    public long phaseCount(String phase) {
        LongAdder a = phaseCount.get(phase);
        return a == null ? 0 : a.sum();
    }

    /** A job started (true) or ended (false) on a job thread; several run at once in a batch. */
    public void busy(boolean v) {
        busy.addAndGet(v ? 1 : -1);
    }

    /** {@code jobs} compatible jobs ran as one batch (one UNet call per step). */
    public void batch(int jobs) {
        batches.increment();
        batchedJobs.add(jobs);
    }

    /** Batches run so far. */
    public long batches() {
        return batches.sum();
    }

    /** Jobs that ran in a batch so far. */
    public long batchedJobs() {
        return batchedJobs.sum();
    }

    /** After a job: malloc's kept free blocks given back, {@code bytes} of resident set (-1: unavailable). */
    public void nativeHeapTrimmed(long bytes) {
        if (bytes < 0) {
            return;
        }
        nativeHeapTrims.increment();
        nativeHeapReleasedBytes.add(bytes);
    }

    /** Trims of the native heap after jobs so far. */
    public long nativeHeapTrims() {
        return nativeHeapTrims.sum();
    }

    /** Where the readiness gauge reads from. */
    public void readiness(BooleanSupplier v) {
        ready = v;
    }

    public long modelCacheHits() {
        return modelCacheHits.sum();
    }

    public long modelCacheMisses() {
        return modelCacheMisses.sum();
    }

    public long modelCacheEvictions() {
        return modelCacheEvictions.sum();
    }

    /** A model folder (and the blobs only it used) removed from the disk cache to keep to its budget. */
    public void diskCacheEviction(long bytes) {
        diskCacheEvictions.increment();
        diskCacheEvictedBytes.add(bytes);
    }

    public long diskCacheEvictions() {
        return diskCacheEvictions.sum();
    }

    public long diskCacheHits() {
        return diskCacheHits.sum();
    }

    public long diskCacheMisses() {
        return diskCacheMisses.sum();
    }

    public long jobs(Outcome outcome) {
        LongAdder a = jobs.get(outcome);
        return a == null ? 0 : a.sum();
    }

    public long deadLettered() {
        return deadLettered.sum();
    }

    public long poisonMessages() {
        return poisonMessages.sum();
    }

    /** The latest job's time from dequeue to its first denoising step, or -1 before any. */
    public long lastTimeToFirstStepNanos() {
        return lastFirstStepNanos.get();
    }

    public boolean isReady() {
        return ready.getAsBoolean();
    }

    /** Prometheus text exposition. */
    public String prometheus() {
        StringBuilder sb = new StringBuilder(2048);
        counter(sb, "animatediff_worker_model_cache_hits_total", "Loaded-model cache hits", modelCacheHits.sum());
        counter(
                sb,
                "animatediff_worker_model_cache_misses_total",
                "Loaded-model cache misses (model loaded)",
                modelCacheMisses.sum());
        counter(
                sb,
                "animatediff_worker_model_cache_evictions_total",
                "Loaded models evicted and closed",
                modelCacheEvictions.sum());
        gauge(sb, "animatediff_worker_model_cache_bytes", "Bytes of loaded models held", modelCacheBytes.get());
        gauge(sb, "animatediff_worker_model_cache_entries", "Loaded models held", modelCacheEntries.get());
        counter(
                sb,
                "animatediff_worker_disk_cache_hits_total",
                "Model files found in the disk cache",
                diskCacheHits.sum());
        counter(
                sb,
                "animatediff_worker_disk_cache_misses_total",
                "Model files downloaded into the disk cache",
                diskCacheMisses.sum());
        counter(sb, "animatediff_worker_downloaded_bytes_total", "Model bytes downloaded", downloadedBytes.sum());
        counter(
                sb,
                "animatediff_worker_disk_cache_evictions_total",
                "Model folders evicted from the disk cache (least recently used first)",
                diskCacheEvictions.sum());
        counter(
                sb,
                "animatediff_worker_disk_cache_evicted_bytes_total",
                "Blob bytes freed by disk-cache evictions",
                diskCacheEvictedBytes.sum());
        sb.append("# HELP animatediff_worker_jobs_total Dequeued jobs by outcome\n");
        sb.append("# TYPE animatediff_worker_jobs_total counter\n");
        for (Outcome o : Outcome.values()) {
            sb.append("animatediff_worker_jobs_total{outcome=\"")
                    .append(o.label())
                    .append("\"} ")
                    .append(jobs(o))
                    .append('\n');
        }
        counter(sb, "animatediff_worker_dead_lettered_total", "Messages sent to the DLQ", deadLettered.sum());
        counter(
                sb,
                "animatediff_worker_poison_messages_total",
                "Unreadable messages sent to the DLQ",
                poisonMessages.sum());
        summary(
                sb,
                "animatediff_worker_time_to_first_step_seconds",
                "Dequeue to first denoising step",
                firstStepSeconds.sum(),
                firstStepCount.sum());
        summary(sb, "animatediff_worker_job_seconds", "Dequeue to disposition", jobSeconds.sum(), jobCount.sum());
        sb.append(
                "# HELP animatediff_worker_job_phase_seconds Time jobs spent per phase (queue = submitted to dequeued)\n");
        sb.append("# TYPE animatediff_worker_job_phase_seconds summary\n");
        for (String ph : PHASES) {
            DoubleAdder sum = phaseSeconds.get(ph);
            sb.append("animatediff_worker_job_phase_seconds_sum{phase=\"")
                    .append(ph)
                    .append("\"} ")
                    .append(String.format(Locale.ROOT, "%.6f", sum == null ? 0.0 : sum.sum()))
                    .append('\n');
            sb.append("animatediff_worker_job_phase_seconds_count{phase=\"")
                    .append(ph)
                    .append("\"} ")
                    .append(phaseCount(ph))
                    .append('\n');
        }
        counter(sb, "animatediff_worker_denoise_steps_total", "Denoising steps run", denoiseSteps.sum());
        sb.append("# HELP animatediff_worker_steps_per_second Denoising steps per second of the last job\n");
        sb.append("# TYPE animatediff_worker_steps_per_second gauge\n");
        sb.append("animatediff_worker_steps_per_second ")
                .append(String.format(Locale.ROOT, "%.3f", lastStepsPerSecondMilli.get() / 1000.0))
                .append('\n');
        sb.append("# HELP animatediff_worker_failures_total Failed attempts by failure code\n");
        sb.append("# TYPE animatediff_worker_failures_total counter\n");
        failures.forEach((code, n) -> sb.append("animatediff_worker_failures_total{reason=\"")
                .append(code)
                .append("\"} ")
                .append(n.sum())
                .append('\n'));
        gauge(sb, "animatediff_worker_busy", "Jobs running (1 while a job runs, more in a batch)", busy.get());
        counter(
                sb,
                "animatediff_worker_batches_total",
                "Batches of compatible jobs run with one UNet call per step (ANIMATEDIFF_BATCH_MAX)",
                batches.sum());
        counter(sb, "animatediff_worker_batched_jobs_total", "Jobs that ran in a batch", batchedJobs.sum());
        counter(
                sb,
                "animatediff_worker_native_heap_trims_total",
                "malloc_trim calls after jobs (freed blocks glibc malloc kept, given back)",
                nativeHeapTrims.sum());
        counter(
                sb,
                "animatediff_worker_native_heap_released_bytes_total",
                "Resident bytes the trims after jobs gave back (may be negative per trim: other threads allocate)",
                nativeHeapReleasedBytes.sum());
        gauge(sb, "animatediff_worker_ready", "1 once the engine is warm and the consumers run", isReady() ? 1 : 0);
        return sb.toString();
    }

    private static void counter(StringBuilder sb, String name, String help, long value) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(" counter\n");
        sb.append(name).append(' ').append(value).append('\n');
    }

    private static void gauge(StringBuilder sb, String name, String help, long value) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(" gauge\n");
        sb.append(name).append(' ').append(value).append('\n');
    }

    private static void summary(StringBuilder sb, String name, String help, double sum, long count) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(" summary\n");
        sb.append(name)
                .append("_sum ")
                .append(String.format(Locale.ROOT, "%.6f", sum))
                .append('\n');
        sb.append(name).append("_count ").append(count).append('\n');
    }
}
