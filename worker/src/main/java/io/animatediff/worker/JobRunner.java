package io.animatediff.worker;

import ai.djl.ndarray.NDManager;
import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.ContextOptions;
import io.animatediff.common.protocol.Failure;
import io.animatediff.common.protocol.FailureCode;
import io.animatediff.common.protocol.FreeInitOptions;
import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.protocol.LoraSpec;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.OutputFormat;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.store.ObjectStoreException;
import io.animatediff.common.trace.JobContext;
import io.animatediff.common.validation.GenerationRequestValidator;
import io.animatediff.common.validation.TokenCounter;
import io.animatediff.common.validation.ValidationLimits;
import io.animatediff.common.validation.Violation;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.VideoReader;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.LoraMerger;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.AnimationResult;
import io.animatediff.engine.pipeline.CancelledException;
import io.animatediff.engine.pipeline.ContextWindows;
import io.animatediff.engine.pipeline.FreeInit;
import io.animatediff.engine.pipeline.MemoryPlan;
import io.animatediff.engine.pipeline.NativeHeap;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.pipeline.VideoInput;
import io.animatediff.engine.text.ClipTokenizer;
import io.animatediff.worker.EventPublisher.PublishException;
import io.animatediff.worker.WorkerMetrics.Outcome;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Handles one message of {@code animatediff.generate} from dequeue to disposition, on the job
 * thread:
 *
 * <ol>
 *   <li>parse (an unreadable message goes to the DLQ, and FAILED when its key is a job id);
 *   <li>a job cancelled while queued publishes CANCELLED without running;
 *   <li>the models' manifests and the shared validator (workers never trust the queue), then
 *       RUNNING;
 *   <li>base + motion model from the caches; the validator again with the module's frame limit
 *       and the model's tokenizer;
 *   <li>LoRAs merged for this job only, restored after the pipeline (the cached model stays
 *       clean);
 *   <li>the pipeline, PROGRESS throttled, cancel honoured between steps;
 *   <li>results encoded and uploaded, then SUCCEEDED.
 * </ol>
 *
 * A failure with a retryable code re-publishes the job as its next attempt (and QUEUED for that
 * attempt) until {@code maxAttempts}; after that, or for a non-retryable code, the job goes to the
 * DLQ with its reason and ends FAILED. The returned {@link Disposition} tells the consumer whether
 * the offset may be committed: only once every record the outcome needs was acknowledged.
 */
public final class JobRunner {
    /** What the consumer does with the message's offset. */
    public enum Disposition {
        /** Everything the outcome needed is durable: commit. */
        COMMIT,
        /** Leave uncommitted: the message is delivered again (shutdown, revocation, Kafka down). */
        RELEASE
    }

    private static final Logger LOG = LoggerFactory.getLogger(JobRunner.class);

    private final WorkerConfig config;
    private final ModelResolver models;
    private final ResultUploader uploader;
    private final EventPublisher events;
    private final Predicate<String> cancelled;
    private final WorkerMetrics metrics;
    private final Clock clock = Clock.systemUTC();

    public JobRunner(
            WorkerConfig config,
            ModelResolver models,
            ResultUploader uploader,
            EventPublisher events,
            Predicate<String> cancelled,
            WorkerMetrics metrics) {
        this.config = Objects.requireNonNull(config, "config");
        this.models = Objects.requireNonNull(models, "models");
        this.uploader = Objects.requireNonNull(uploader, "uploader");
        this.events = Objects.requireNonNull(events, "events");
        this.cancelled = Objects.requireNonNull(cancelled, "cancelled");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
    }

    /** Handles one message; never throws. */
    public Disposition handle(ConsumerRecord<String, byte[]> record, JobControl control) {
        metrics.busy(true);
        // trace context and callback of the job: continued on every record published for it
        try (JobContext.Scope scope = JobContext.open(EventPublisher.contextHeaders(record.headers()))) {
            LOG.info(
                    "job {} dequeued from {}-{}@{} traceparent {}",
                    record.key(),
                    record.topic(),
                    record.partition(),
                    record.offset(),
                    JobContext.traceparent());
            return dispatch(record, control);
        } catch (PublishException e) {
            LOG.error("{}", e.getMessage());
            metrics.job(Outcome.RELEASED);
            return Disposition.RELEASE;
        } catch (JobControl.Aborted e) {
            LOG.info("job at {}-{}@{} {}", record.topic(), record.partition(), record.offset(), e.getMessage());
            metrics.job(Outcome.RELEASED);
            return Disposition.RELEASE;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            metrics.job(Outcome.RELEASED);
            return Disposition.RELEASE;
        } catch (RuntimeException | Error e) {
            // a bug in the handling itself: leave the message for another delivery
            LOG.error("handling {}-{}@{} failed", record.topic(), record.partition(), record.offset(), e);
            metrics.job(Outcome.RELEASED);
            return Disposition.RELEASE;
        } finally {
            control.leaveBatch(); // refused, cancelled while queued, unreadable: its batch goes on without it
            metrics.jobDuration(System.nanoTime() - control.dequeuedNanos());
            metrics.busy(false);
            releaseNativeMemory();
        }
    }

    /**
     * Gives back the freed blocks glibc malloc keeps after a job (a first SD1.5 UNet forward leaves
     * ~3x its working set resident as free blocks; see the README's memory plan): without it a worker
     * idles hundreds of MiB above its models. Only free memory is released, so no output changes.
     */
    private void releaseNativeMemory() {
        long start = System.nanoTime();
        long released = NativeHeap.trim();
        metrics.nativeHeapTrimmed(released);
        LOG.debug(
                "malloc_trim after the job gave back {} MiB of resident set in {} ms",
                released >> 20,
                (System.nanoTime() - start) / 1_000_000);
    }

    private Disposition dispatch(ConsumerRecord<String, byte[]> record, JobControl control)
            throws InterruptedException {
        // 1. parse
        GenerationJob job;
        try {
            job = Json.read(record.value(), GenerationJob.class);
        } catch (RuntimeException e) { // InvalidMessageException, a null value, unreadable bytes
            return poison(record, e);
        }
        if (record.key() != null && !record.key().equals(job.jobId())) {
            LOG.warn("message key '{}' differs from job_id '{}': events use the job id", record.key(), job.jobId());
        }
        String id = job.jobId();
        // 2. cancelled while queued
        if (cancelled.test(id)) {
            events.publish(JobEvent.cancelled(id, clock.instant(), job.attempt(), config.workerId()));
            metrics.job(Outcome.CANCELLED);
            LOG.info("job {} was cancelled before it ran", id);
            return Disposition.COMMIT;
        }
        // 3.-7. run
        try {
            List<ResultObject> results;
            try {
                results = executeWaitingOutStorage(job, control);
            } finally {
                control.leaveBatch(); // a job that never reached its pipeline step lets its batch go on
            }
            events.publish(JobEvent.succeeded(id, clock.instant(), job.attempt(), config.workerId(), results));
            metrics.job(Outcome.SUCCEEDED);
            control.mark("succeeded");
            LOG.info(
                    "job {} attempt {} succeeded ({}): {}",
                    id,
                    job.attempt(),
                    control.timeline(),
                    results.stream().map(ResultObject::key).toList());
            return Disposition.COMMIT;
        } catch (CancelledException e) {
            if (control.isAborted()) {
                throw new JobControl.Aborted(control.abortReason());
            }
            events.publish(JobEvent.cancelled(id, clock.instant(), job.attempt(), config.workerId()));
            metrics.job(Outcome.CANCELLED);
            LOG.info("job {} cancelled ({})", id, e.getMessage());
            return Disposition.COMMIT;
        } catch (PublishException | JobControl.Aborted e) {
            throw e;
        } catch (JobFailedException e) {
            if (e.getCause() != null && e.code() == FailureCode.INTERNAL) {
                LOG.error("job {} attempt {} failed", id, job.attempt(), e);
            }
            return fail(record, job, e.failure(), control);
        } catch (RuntimeException e) {
            LOG.error("job {} attempt {} failed unexpectedly", id, job.attempt(), e);
            return fail(
                    record,
                    job,
                    new Failure(
                            FailureCode.INTERNAL,
                            "unexpected error on worker " + config.workerId() + ": " + e
                                    + " (the job is retried; report it if it keeps failing)"),
                    control);
        } catch (OutOfMemoryError e) {
            return fail(
                    record,
                    job,
                    new Failure(
                            FailureCode.OUT_OF_MEMORY,
                            "worker " + config.workerId() + " ran out of memory: lower width, height or num_frames"),
                    control);
        }
    }

    /**
     * {@link #execute} again, within the same attempt, while the object store is unreachable (its
     * manifests, models or results): an outage of the store is nobody's fault but the
     * infrastructure's, so it must not use up the job's attempts. Waits with backoff (0.5 s
     * doubling to 5 s), a warning per wait naming the job, for up to the configured storage patience;
     * after that the failure takes the normal retry/DLQ path.
     */
    private List<ResultObject> executeWaitingOutStorage(GenerationJob job, JobControl control)
            throws InterruptedException {
        long start = System.nanoTime();
        Duration wait = Duration.ofMillis(500);
        for (int round = 1; ; round++) {
            try {
                return execute(job, control);
            } catch (JobFailedException e) {
                long waited = System.nanoTime() - start;
                if (e.code() != FailureCode.STORAGE_UNAVAILABLE
                        || waited + wait.toNanos() > config.storagePatience().toNanos()) {
                    throw e;
                }
                LOG.warn(
                        "job {} attempt {}: storage unavailable (round {}, waited {} of {} s), trying again in {} ms: {}",
                        job.jobId(),
                        job.attempt(),
                        round,
                        waited / 1_000_000_000L,
                        config.storagePatience().toSeconds(),
                        wait.toMillis(),
                        e.getMessage());
                events.publishAsync(JobEvent.waiting(
                        job.jobId(),
                        clock.instant(),
                        job.attempt(),
                        config.workerId(),
                        JobEvent.PHASE_WAITING_FOR_STORAGE,
                        waitingForStorage(
                                "using the object store",
                                round,
                                Duration.ofNanos(waited),
                                config.storagePatience(),
                                wait,
                                e.getMessage())));
                if (control.sleepUnlessAborted(wait)) {
                    throw new JobControl.Aborted(control.abortReason());
                }
                wait = wait.multipliedBy(2).compareTo(Duration.ofSeconds(5)) > 0
                        ? Duration.ofSeconds(5)
                        : wait.multipliedBy(2);
            }
        }
    }

    /**
     * The message of a {@link JobEvent#PHASE_WAITING_FOR_STORAGE} event, e.g. "waiting for storage:
     * writing results/j/animation.gif failed (attempt 2, waited 1 s of 90 s): Connection refused;
     * next retry in 1000 ms".
     */
    static String waitingForStorage(
            String what, int attempt, Duration waited, Duration patience, Duration retryIn, String error) {
        return "waiting for storage: " + what + " failed (attempt " + attempt + ", waited " + waited.toSeconds()
                + " s of " + patience.toSeconds() + " s): " + error + "; next retry in " + retryIn.toMillis() + " ms";
    }

    /** The work of one attempt; returns the stored results or throws with the failure. */
    private List<ResultObject> execute(GenerationJob job, JobControl control) {
        GenerationRequest r = job.request();
        String id = job.jobId();
        // 3. the models' manifests and the shared validator, then RUNNING
        metrics.phase(
                "queue", Duration.between(job.submittedAt(), clock.instant()).toNanos());
        ModelResolver.Lookup lookup = models.lookup(r);
        // a module without max_frames in its manifest is checked once loaded
        int framesHint = lookup.find(ModelKind.MOTION, r.motionModule())
                .map(m -> m.maxFrames().orElse(Integer.MAX_VALUE))
                .orElse(Integer.MAX_VALUE);
        validate(r, lookup, framesHint, TokenCounter.NONE);
        control.checkAborted();
        events.publishAsync(
                JobEvent.running(id, clock.instant(), job.attempt(), config.workerId(), r.numInferenceSteps()));
        long runningAt = System.nanoTime();
        // 4. base + motion from the caches
        ModelManifest base = lookup.get(ModelKind.BASE, r.baseModel());
        ModelManifest motion = lookup.get(ModelKind.MOTION, r.motionModule());
        long loadStart = System.nanoTime();
        ModelResolver.Loaded loaded = models.acquire(base, motion);
        metrics.phase("load", System.nanoTime() - loadStart);
        AnimateDiffModel model = loaded.model();
        validate(r, lookup, model.unet().maxFrames(), tokens(model.tokenizer()));
        MemoryPlan.Fit plan = checkMemory(r, model);
        control.checkAborted();
        // 5. LoRAs for this job only
        AnimationResult result;
        List<LoraMerger.Merge> merges = new ArrayList<>();
        try {
            merge(merges, model, lookup, ModelKind.LORA, r.loras(), base);
            merge(merges, model, lookup, ModelKind.MOTION_LORA, r.motionLoras(), base);
            // 6. the pipeline
            control.mark(loaded.cacheHit() ? "model (cache hit)" : "model (loaded)");
            result = runPipeline(job, model, control, runningAt, plan);
            control.mark("denoised+decoded");
        } finally {
            restore(merges, loaded);
        }
        result.warnings().forEach(w -> LOG.warn("job {}: {}", id, w));
        control.checkAborted();
        // 7. results
        try {
            List<OutputFormat> formats = r.outputFormats().stream()
                    .map(f -> OutputFormat.find(f).orElseThrow())
                    .toList();
            long uploadStart = System.nanoTime();
            List<ResultObject> stored = uploader.write(
                    id,
                    result,
                    formats,
                    r.fps(),
                    (key, attempt, waited, retryIn, error) -> events.publishAsync(JobEvent.waiting(
                            id,
                            clock.instant(),
                            job.attempt(),
                            config.workerId(),
                            JobEvent.PHASE_WAITING_FOR_STORAGE,
                            waitingForStorage(
                                    "writing " + key, attempt, waited, config.storagePatience(), retryIn, error))));
            metrics.phase("upload", System.nanoTime() - uploadStart);
            control.mark("stored");
            return stored;
        } catch (ObjectStoreException e) {
            throw new JobFailedException(
                    FailureCode.STORAGE_UNAVAILABLE, "cannot store the results: " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            throw new JobFailedException(
                    FailureCode.INTERNAL,
                    "cannot encode the results in " + config.cacheDir() + ": " + e + ": check the worker's disk",
                    e);
        }
    }

    private void validate(GenerationRequest r, ModelResolver.Lookup lookup, int maxFrames, TokenCounter tokens) {
        ValidationLimits limits = config.limits();
        List<Violation> found =
                new GenerationRequestValidator(limits, lookup.catalog(), tokens).validate(r, Math.max(1, maxFrames));
        List<Violation> errors = Violation.errors(found);
        if (errors.isEmpty()) {
            return;
        }
        boolean missingModel = !lookup.missing(r).isEmpty();
        String reason = errors.stream().map(Violation::message).collect(Collectors.joining("; "));
        throw new JobFailedException(
                missingModel ? FailureCode.MODEL_NOT_FOUND : FailureCode.INVALID_REQUEST, reason, null);
    }

    /**
     * The engine's plan for the job under {@link WorkerConfig#memoryBudgetBytes} (null: no budget);
     * refuses a job that does not fit even with the output-preserving splits.
     */
    private MemoryPlan.Fit checkMemory(GenerationRequest r, AnimateDiffModel model) {
        long budget = config.memoryBudgetBytes();
        if (budget <= 0) {
            return null;
        }
        int context = r.context() == null ? 0 : r.context().length();
        MemoryPlan.Fit fit = MemoryPlan.fit(
                MemoryPlan.Job.of(model, r.width(), r.height(), r.numFrames(), context, r.guidanceScale() > 1.0, 1),
                budget);
        MemoryPlan.Estimate e = fit.estimate();
        if (!fit.fits()) {
            throw new JobFailedException(
                    FailureCode.OUT_OF_MEMORY,
                    "the job is predicted to need " + e.peakBytes() + " bytes of native memory (" + e.describe()
                            + (fit.changes().isEmpty() ? "" : " with " + String.join(" and ", fit.changes()))
                            + ") at " + r.width() + "x" + r.height() + " with " + r.numFrames() + " frames, above"
                            + " worker " + config.workerId() + "'s budget of " + budget + " bytes ("
                            + WorkerConfig.ENV_MEMORY_BUDGET_BYTES + "): request fewer frames (or context windows)"
                            + " or a smaller width and height",
                    null);
        }
        if (!fit.changes().isEmpty()) {
            LOG.info(
                    "{}x{} with {} frames split to fit the memory budget of {} bytes ({}): {}",
                    r.width(),
                    r.height(),
                    r.numFrames(),
                    budget,
                    e.describe(),
                    String.join(", ", fit.changes()));
        }
        return fit;
    }

    private static TokenCounter tokens(ClipTokenizer tokenizer) {
        return new TokenCounter() {
            @Override
            public int countTokens(String text) {
                return tokenizer.tokenize(text).size() + 2; // with BOS and EOS
            }

            @Override
            public int maxTokens() {
                return tokenizer.maxLength();
            }
        };
    }

    private void merge(
            List<LoraMerger.Merge> merges,
            AnimateDiffModel model,
            ModelResolver.Lookup lookup,
            ModelKind kind,
            List<LoraSpec> loras,
            ModelManifest base) {
        for (LoraSpec l : loras) {
            ModelManifest m = lookup.get(kind, l.name());
            Path file = models.loraFile(m);
            try {
                merges.add(LoraMerger.merge(model, new io.animatediff.engine.model.LoraSpec(file, l.scale())));
            } catch (IllegalArgumentException e) {
                throw new JobFailedException(
                        FailureCode.INVALID_REQUEST,
                        kind + " '" + l.name() + "' does not fit base model '" + base.name() + "': " + e.getMessage()
                                + ": pick a " + kind + " trained for this base model",
                        e);
            } catch (IOException | RuntimeException e) {
                throw ModelResolver.loadFailure(kind + " '" + l.name() + "'", e, "register it again from a valid file");
            }
        }
    }

    /** Restores the cached model; a failed restore evicts it so no later job sees merged weights. */
    private void restore(List<LoraMerger.Merge> merges, ModelResolver.Loaded loaded) {
        for (int i = merges.size() - 1; i >= 0; i--) {
            try {
                merges.get(i).close();
            } catch (RuntimeException e) {
                LOG.error(
                        "restoring weights after {} failed: evicting the model",
                        merges.get(i).description(),
                        e);
                models.memory().invalidate(loaded.key());
                return;
            }
        }
    }

    private AnimationResult runPipeline(
            GenerationJob job, AnimateDiffModel model, JobControl control, long runningAt, MemoryPlan.Fit plan) {
        GenerationRequest r = job.request();
        AnimationParams.Builder params = AnimationParams.builder()
                .prompt(r.prompt())
                .negativePrompt(r.negativePrompt())
                .frames(r.numFrames())
                .size(r.width(), r.height())
                .steps(r.numInferenceSteps())
                .guidanceScale(r.guidanceScale())
                .seed(r.seed().bits())
                .scheduler(r.scheduler())
                .motionScale(r.motionScale())
                .promptMap(r.promptMap())
                .timestepSpacing(r.timestepSpacing());
        long[] denoiseStart = {System.nanoTime()};
        long[] denoiseEnd = {0};
        StepListener listener = new StepListener() {
            private final ProgressThrottle throttle =
                    new ProgressThrottle(config.progressInterval().toNanos(), runningAt);
            private boolean first = true;

            @Override
            public boolean isCancelled() {
                if (first) {
                    first = false;
                    denoiseStart[0] = System.nanoTime();
                    metrics.timeToFirstStep(System.nanoTime() - control.dequeuedNanos());
                    control.mark("first step");
                }
                return control.isAborted() || cancelled.test(job.jobId());
            }

            @Override
            public void onStep(int step, int total) {
                if (step == total) {
                    denoiseEnd[0] = System.nanoTime();
                    metrics.denoised(total, denoiseEnd[0] - denoiseStart[0]);
                }
                if (throttle.shouldSend(step, total, System.nanoTime())) {
                    events.publishAsync(JobEvent.progress(
                            job.jobId(), clock.instant(), job.attempt(), config.workerId(), step, total));
                }
            }
        };
        try (NDManager inputs = model.manager().newSubManager()) {
            features(r, params, inputs);
            boolean split = plan != null && !plan.changes().isEmpty();
            if (plan != null) {
                plan.apply(params);
            }
            if (split) {
                control.leaveBatch(); // a job that needed a memory split runs alone, with its split plan
            }
            AnimationResult result = control.batch() == null || split
                    ? new AnimationPipeline(model).run(params.build(), listener, true)
                    : control.batch()
                            .run(control, params.build(), listener, model, config.memoryBudgetBytes(), metrics);
            if (denoiseEnd[0] != 0) {
                metrics.phase("decode", System.nanoTime() - denoiseEnd[0]);
            }
            return result;
        } catch (CancelledException e) {
            throw e;
        } catch (IOException e) {
            throw new JobFailedException(
                    FailureCode.INVALID_REQUEST,
                    "video cannot be read as a GIF or MP4: " + e.getMessage() + ": send a GIF or an H.264 MP4",
                    e);
        } catch (IllegalArgumentException e) {
            throw new JobFailedException(FailureCode.INVALID_REQUEST, e.getMessage(), e);
        } catch (RuntimeException | OutOfMemoryError e) {
            if (ModelResolver.isOutOfMemory(e)) {
                throw new JobFailedException(
                        FailureCode.OUT_OF_MEMORY,
                        "the worker ran out of memory at " + r.width() + "x" + r.height() + " with " + r.numFrames()
                                + " frames: lower width, height or num_frames",
                        e);
            }
            throw new JobFailedException(
                    FailureCode.INTERNAL,
                    "the pipeline failed on worker " + config.workerId() + ": " + e
                            + " (the job is retried; report it if it keeps failing)",
                    e);
        }
    }

    /**
     * The batch key of a {@code animatediff.generate} record (see {@link JobConsumer.Batching}): equal
     * for jobs that may share one UNet call per step (same base model and motion module, size,
     * frames, steps, scheduler, timestep spacing, motion scale, with or without guidance), null for
     * a job that runs alone (LoRAs, which are merged into the shared weights, context windows,
     * prompt travel, FreeInit, video input, or an unreadable message).
     */
    static String batchKey(ConsumerRecord<String, byte[]> record) {
        GenerationJob job;
        try {
            job = Json.read(record.value(), GenerationJob.class);
        } catch (RuntimeException e) {
            return null;
        }
        GenerationRequest r = job.request();
        if (!r.loras().isEmpty()
                || !r.motionLoras().isEmpty()
                || r.context() != null
                || (r.promptMap() != null && !r.promptMap().isEmpty())
                || r.freeInit() != null
                || r.video() != null) {
            return null;
        }
        return String.join(
                "\n",
                r.baseModel(),
                r.motionModule(),
                r.width() + "x" + r.height() + "x" + r.numFrames(),
                Integer.toString(r.numInferenceSteps()),
                String.valueOf(r.scheduler()),
                String.valueOf(r.timestepSpacing()),
                Double.toString(r.motionScale()),
                Boolean.toString(r.guidanceScale() > 1.0));
    }

    /** Context windows, FreeInit and the video-to-video input of a request, on the engine's terms. */
    private void features(GenerationRequest r, AnimationParams.Builder params, NDManager inputs) throws IOException {
        ContextOptions c = r.context();
        if (c != null) {
            params.context(new ContextWindows(
                    c.length(),
                    c.overlap(),
                    c.stride(),
                    ContextWindows.Schedule.parse(c.schedule()),
                    ContextWindows.Fuse.parse(c.weighting()),
                    c.closedLoop()));
        }
        FreeInitOptions f = r.freeInit();
        if (f != null) {
            params.freeInit(new FreeInit(
                    f.numIters(),
                    f.method(),
                    f.order(),
                    f.spatialStopFrequency(),
                    f.temporalStopFrequency(),
                    f.useFastSampling()));
        }
        if (r.video() != null) {
            Files.createDirectories(config.cacheDir());
            Path file = Files.createTempFile(config.cacheDir(), "video-", ".input");
            try {
                Files.write(file, Base64.getDecoder().decode(r.video()));
                Frames frames = VideoReader.read(file);
                params.video(VideoInput.tensor(frames, r.numFrames(), r.width(), r.height(), inputs), r.strength());
            } finally {
                Files.deleteIfExists(file);
            }
        }
    }

    /** A retryable failure with attempts left is re-queued; anything else goes to the DLQ and ends FAILED. */
    private Disposition fail(
            ConsumerRecord<String, byte[]> record, GenerationJob job, Failure failure, JobControl control)
            throws InterruptedException {
        String id = job.jobId();
        metrics.failure(failure.code().name());
        if (failure.code().retryable() && job.attempt() < config.maxAttempts()) {
            Duration backoff = config.retryBackoff().multipliedBy(1L << Math.min(job.attempt() - 1, 10));
            if (control.sleepUnlessAborted(backoff)) {
                throw new JobControl.Aborted(control.abortReason());
            }
            GenerationJob next = job.nextAttempt();
            events.requeue(next, failure);
            events.publish(JobEvent.queued(id, clock.instant(), next.attempt()));
            metrics.job(Outcome.RETRIED);
            LOG.warn(
                    "job {} attempt {} of {} failed ({}: {}); re-queued as attempt {}",
                    id,
                    job.attempt(),
                    config.maxAttempts(),
                    failure.code(),
                    failure.reason(),
                    next.attempt());
            return Disposition.COMMIT;
        }
        Failure last = failure.code().retryable()
                ? new Failure(
                        failure.code(),
                        failure.reason() + " (attempt " + job.attempt() + " of " + config.maxAttempts()
                                + ", no retries left)")
                : failure;
        uploader.deleteResults(id); // an earlier attempt may have stored some: a FAILED job has none
        events.deadLetter(id, record.value(), last, job.attempt());
        events.publish(JobEvent.failed(id, clock.instant(), job.attempt(), config.workerId(), last));
        metrics.deadLetter();
        metrics.job(Outcome.FAILED);
        LOG.warn("job {} attempt {} failed: {}: {}", id, job.attempt(), last.code(), last.reason());
        return Disposition.COMMIT;
    }

    /** An unreadable message: to the DLQ; FAILED too when its key names a job. */
    private Disposition poison(ConsumerRecord<String, byte[]> record, RuntimeException e) {
        Failure f = new Failure(
                FailureCode.INVALID_REQUEST,
                "the message at " + Topics.GENERATE + " partition " + record.partition() + " offset " + record.offset()
                        + " is not a readable GenerationJob (" + e.getMessage()
                        + "): producers must send GenerationJob JSON with schema 1; submit the job again");
        events.deadLetter(record.key(), record.value(), f, 1);
        if (JobIds.isValid(record.key())) {
            events.publish(JobEvent.failed(record.key(), clock.instant(), 1, config.workerId(), f));
        }
        metrics.poisonMessage();
        metrics.deadLetter();
        metrics.job(Outcome.FAILED);
        LOG.warn("{}", f.reason());
        return Disposition.COMMIT;
    }
}
