package io.animatediff.trainer;

import io.animatediff.common.Json;
import io.animatediff.common.protocol.Failure;
import io.animatediff.common.protocol.FailureCode;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.protocol.JobOwnerTags;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.Progress;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.common.protocol.Schema;
import io.animatediff.common.protocol.TrainingJob;
import io.animatediff.common.protocol.TrainingRequest;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelConflictException;
import io.animatediff.common.registry.ModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.registry.RegistryModelCatalog;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.Sha256;
import io.animatediff.common.validation.TrainingRequestValidator;
import io.animatediff.common.validation.Violation;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.training.MotionTrainer;
import io.animatediff.engine.training.StepReport;
import io.animatediff.engine.training.TrainingCheckpoint;
import io.animatediff.engine.training.TrainingConfig;
import io.animatediff.engine.training.TrainingListener;
import io.animatediff.engine.training.TrainingResult;
import io.animatediff.worker.EventPublisher;
import io.animatediff.worker.EventPublisher.PublishException;
import io.animatediff.worker.JobControl;
import io.animatediff.worker.JobRunner.Disposition;
import io.animatediff.worker.ModelResolver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Handles one message of {@code animatediff.train} from dequeue to disposition, on the job thread:
 *
 * <ol>
 *   <li>parse (an unreadable message whose key is a job id ends FAILED; it is committed either way);
 *   <li>a job cancelled while queued publishes CANCELLED without running;
 *   <li>the shared {@link TrainingRequestValidator} against the registry, then RUNNING;
 *   <li>base and motion module downloaded from the registry; the newest complete checkpoint of
 *       this job restored from {@code checkpoints/<jobId>/} (a redelivered or crashed job resumes);
 *   <li>the engine's {@link MotionTrainer} on an {@link S3DatasetSource}: PROGRESS (step, loss,
 *       samples/s) throttled, each checkpoint uploaded (marker last) before training goes on,
 *       validation GIFs uploaded beside them, cancel honoured between steps;
 *   <li>the trained weights registered as {@code models/<kind>/<output_name>/}, then SUCCEEDED
 *       listing the registered file and the last checkpoint.
 * </ol>
 *
 * The offset is committed ({@link Disposition#COMMIT}) only after the terminal event was
 * acknowledged; a job stopped by shutdown or a rebalance is {@link Disposition#RELEASE}d and the
 * next trainer resumes it from its last uploaded checkpoint.
 */
public final class TrainingJobRunner {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingJobRunner.class);

    private final TrainerConfig config;
    private final ObjectStore store;
    private final ModelRegistry registry;
    private final TrainingRequestValidator validator;
    private final EventPublisher events;
    private final Predicate<String> cancelled;
    private final Clock clock = Clock.systemUTC();

    public TrainingJobRunner(
            TrainerConfig config, ObjectStore store, EventPublisher events, Predicate<String> cancelled) {
        this.config = config;
        this.store = store;
        this.registry = new ModelRegistry(store);
        this.validator = new TrainingRequestValidator(new RegistryModelCatalog(registry, Duration.ZERO));
        this.events = events;
        this.cancelled = cancelled;
    }

    /** A job's end that is not success. */
    private static final class Stop extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient Failure failure;

        Stop(FailureCode code, String reason) {
            super(reason);
            this.failure = new Failure(code, reason);
        }
    }

    /** The user cancelled the job mid-run. */
    private static final class Cancelled extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Cancelled(String message) {
            super(message);
        }
    }

    /** Handles one message; never throws. */
    public Disposition handle(ConsumerRecord<String, byte[]> record, JobControl control) {
        try {
            return dispatch(record, control);
        } catch (PublishException e) {
            LOG.error("{}", e.getMessage());
            return Disposition.RELEASE;
        } catch (JobControl.Aborted e) {
            LOG.info(
                    "training job at {}-{}@{} {}", record.topic(), record.partition(), record.offset(), e.getMessage());
            return Disposition.RELEASE;
        } catch (RuntimeException | Error e) {
            LOG.error("handling {}-{}@{} failed", record.topic(), record.partition(), record.offset(), e);
            return Disposition.RELEASE;
        }
    }

    private Disposition dispatch(ConsumerRecord<String, byte[]> record, JobControl control) {
        TrainingJob job;
        try {
            job = Json.read(record.value(), TrainingJob.class);
        } catch (RuntimeException e) {
            LOG.warn(
                    "unreadable training job at {}-{}@{}: {}",
                    record.topic(),
                    record.partition(),
                    record.offset(),
                    e.getMessage());
            if (record.key() != null && JobIds.isValid(record.key())) {
                events.publish(JobEvent.failed(
                        record.key(),
                        clock.instant(),
                        1,
                        config.trainerId(),
                        new Failure(FailureCode.INVALID_REQUEST, "not a readable training job: " + e.getMessage())));
            }
            return Disposition.COMMIT;
        }
        String id = job.jobId();
        if (cancelled.test(id)) {
            events.publish(JobEvent.cancelled(id, clock.instant(), job.attempt(), config.trainerId()));
            LOG.info("training job {} was cancelled before it ran", id);
            return Disposition.COMMIT;
        }
        Path work = config.workDir().resolve("jobs").resolve(id);
        try {
            List<ResultObject> results = execute(job, work, control);
            events.publish(JobEvent.succeeded(id, clock.instant(), job.attempt(), config.trainerId(), results));
            LOG.info(
                    "training job {} succeeded: {}",
                    id,
                    results.stream().map(ResultObject::key).toList());
            return Disposition.COMMIT;
        } catch (Stop e) {
            events.publish(JobEvent.failed(id, clock.instant(), job.attempt(), config.trainerId(), e.failure));
            LOG.warn("training job {} failed: {}", id, e.getMessage());
            return Disposition.COMMIT;
        } catch (Cancelled e) {
            events.publish(JobEvent.cancelled(id, clock.instant(), job.attempt(), config.trainerId()));
            LOG.info("training job {} {}", id, e.getMessage());
            return Disposition.COMMIT;
        } catch (PublishException | JobControl.Aborted e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            if (control.isAborted()) {
                throw new JobControl.Aborted(control.abortReason());
            }
            LOG.error("training job {} failed", id, e);
            events.publish(JobEvent.failed(
                    id,
                    clock.instant(),
                    job.attempt(),
                    config.trainerId(),
                    new Failure(
                            FailureCode.INTERNAL, "training failed on " + config.trainerId() + ": " + e.getMessage())));
            return Disposition.COMMIT;
        } finally {
            try {
                S3Checkpoints.deleteTree(work);
            } catch (IOException e) {
                LOG.warn("could not remove {}: {}", work, e.toString());
            }
        }
    }

    /** Refuses an output name that another API key's model already holds (owner null: no key). */
    private void checkOutputOwner(ModelKind kind, String name, String owner) {
        registry.find(kind, name).ifPresent(existing -> {
            if (existing.owner() != null && !existing.owner().equals(owner)) {
                throw new Stop(
                        FailureCode.INVALID_REQUEST,
                        "output_name '" + name + "' is a " + kind.json() + " model of another API key: choose"
                                + " another output_name (a training job never replaces another key's model)");
            }
        });
    }

    private List<ResultObject> execute(TrainingJob job, Path work, JobControl control) throws IOException {
        TrainingRequest r = job.request();
        String id = job.jobId();
        ModelKind kind = ModelKind.find(r.kind()).orElse(null);
        // 3. validation against the registry (the trainer never trusts the queue)
        ModelManifest motion = r.motionModule().isEmpty()
                ? null
                : registry.find(ModelKind.MOTION, r.motionModule()).orElse(null);
        int maxFrames = motion != null && motion.maxFrames().isPresent()
                ? motion.maxFrames().getAsInt()
                : MotionModuleConfig.v1().maxFrames();
        List<Violation> errors = Violation.errors(validator.validate(r, maxFrames));
        if (!errors.isEmpty()) {
            throw new Stop(FailureCode.INVALID_REQUEST, "invalid training request: " + errors);
        }
        // the output belongs to the submitting API key (the gateway's tag in the job id): another
        // key's model of that name is never replaced
        String owner = JobOwnerTags.tagOf(id).orElse(null);
        if (kind != null) {
            checkOutputOwner(kind, r.outputName(), owner);
        }
        events.publish(JobEvent.running(id, clock.instant(), job.attempt(), config.trainerId(), r.maxTrainSteps()));
        // 4. models and the resume point
        ModelManifest baseManifest = registry.get(ModelKind.BASE, r.baseModel());
        Path base = download(baseManifest, work.resolve("base"));
        Path motionFile = motion == null ? null : download(motion, work.resolve("motion"));
        MotionModuleConfig.MotionNorm norm = motion == null
                ? MotionModuleConfig.MotionNorm.OFFICIAL
                : MotionModuleConfig.MotionNorm.parse(
                        String.valueOf(motion.config().getOrDefault(ModelResolver.CONFIG_MOTION_NORM, "official")));
        Path out = Files.createDirectories(work.resolve("out"));
        S3Checkpoints checkpoints = new S3Checkpoints(store, id);
        boolean resumed = checkpoints
                .restoreNewest(out, m -> LOG.info("training job {}: {}", id, m))
                .isPresent();
        boolean lora = kind == ModelKind.MOTION_LORA;
        TrainingConfig tc = TrainingConfig.builder()
                .baseModel(base)
                .motionModule(motionFile)
                .motionNorm(norm)
                .loraRank(lora ? r.loraRank() : 0)
                .outDir(out)
                .resume(resumed)
                .steps(r.maxTrainSteps())
                .batchSize(r.trainBatchSize())
                .frames(r.numFrames())
                .stride(r.sampleStride())
                .size(r.resolution())
                .learningRate(r.learningRate())
                .weightDecay(r.adamWeightDecay())
                .maxGradNorm(r.maxGradNorm())
                .captionDropout(r.captionDropout())
                .checkpointEvery(r.checkpointingSteps())
                .validateEvery(config.validateEvery())
                .validationSteps(config.validateEvery() > 0 ? 8 : 25)
                .latentCacheClips(config.latentCacheClips())
                .seed(r.seed().bits())
                .build();
        // 5. train
        S3DatasetSource.Location loc = S3DatasetSource.Location.parse(r.datasetUri());
        Listener listener = new Listener(job, checkpoints, control);
        TrainingResult result;
        try (ObjectStore data = new ObjectStore(store.config().withBucket(loc.bucket()));
                MotionTrainer trainer = MotionTrainer.open(tc, new S3DatasetSource(data, loc.prefix()), listener)) {
            result = trainer.train();
        } catch (IllegalArgumentException e) {
            throw new Stop(FailureCode.INVALID_REQUEST, e.getMessage());
        }
        control.checkAborted();
        if (result.cancelled()) {
            throw new Cancelled("cancelled at step " + result.steps());
        }
        if (!result.skipped().isEmpty()) {
            LOG.info("training job {}: clips skipped {}", id, result.skipped());
        }
        // 6. registration
        Path ckpt = result.checkpoint() != null ? result.checkpoint() : TrainingCheckpoint.dir(out, result.steps());
        return register(r, kind, ckpt, checkpoints.stepPrefix(result.steps()), motion, owner);
    }

    private List<ResultObject> register(
            TrainingRequest r, ModelKind kind, Path ckpt, String ckptPrefix, ModelManifest motion, String owner) {
        boolean lora = kind == ModelKind.MOTION_LORA;
        String fileName = lora ? TrainingCheckpoint.MOTION_LORA : TrainingCheckpoint.MOTION_MODULE;
        Path weights = ckpt.resolve(fileName);
        Map<String, Object> cfg = new LinkedHashMap<>();
        if (!lora) {
            cfg.put(
                    ModelManifest.CONFIG_MAX_FRAMES,
                    motion != null && motion.maxFrames().isPresent()
                            ? motion.maxFrames().getAsInt()
                            : MotionModuleConfig.v1().maxFrames());
            cfg.put(
                    ModelResolver.CONFIG_MOTION_NORM,
                    motion == null
                            ? "official"
                            : String.valueOf(
                                    motion.config().getOrDefault(ModelResolver.CONFIG_MOTION_NORM, "official")));
        }
        ModelFormat format = lora ? ModelFormat.LORA_SAFETENSORS : ModelFormat.MOTION_SAFETENSORS;
        ModelManifest m;
        try {
            m = registry.register(
                    kind, r.outputName(), format, List.of(LocalModelFile.of(fileName, weights)), cfg, owner);
        } catch (ModelConflictException e) {
            // retraining under the same name replaces the previous version, if it is the same key's
            checkOutputOwner(kind, r.outputName(), owner);
            registry.delete(kind, r.outputName());
            m = registry.register(
                    kind, r.outputName(), format, List.of(LocalModelFile.of(fileName, weights)), cfg, owner);
        }
        List<ResultObject> out = new ArrayList<>();
        for (ModelFile f : m.files()) {
            out.add(new ResultObject(
                    format.json(), ModelRegistry.fileKey(kind, r.outputName(), f.path()), f.size(), f.sha256()));
        }
        try {
            Path state = ckpt.resolve(TrainingCheckpoint.STATE);
            out.add(new ResultObject(
                    "checkpoint", ckptPrefix + TrainingCheckpoint.STATE, Files.size(state), Sha256.hex(state)));
        } catch (IOException e) {
            LOG.warn("could not describe checkpoint {}: {}", ckpt, e.toString());
        }
        return out;
    }

    /** Downloads a manifest's files under {@code dir}; returns the folder (diffusers) or the single file. */
    private Path download(ModelManifest m, Path dir) {
        for (ModelFile f : m.files()) {
            Path target = dir.resolve(f.path());
            try {
                Files.createDirectories(target.getParent());
            } catch (IOException e) {
                throw new IllegalStateException("cannot create " + target.getParent() + ": " + e.getMessage(), e);
            }
            registry.download(m, f, target);
        }
        return m.format() == ModelFormat.DIFFUSERS
                ? dir
                : dir.resolve(m.files().get(0).path());
    }

    /** Publishes progress, uploads checkpoints and samples, and answers cancel. */
    private final class Listener implements TrainingListener {
        private final TrainingJob job;
        private final S3Checkpoints checkpoints;
        private final JobControl control;
        private long lastProgressNanos;

        Listener(TrainingJob job, S3Checkpoints checkpoints, JobControl control) {
            this.job = job;
            this.checkpoints = checkpoints;
            this.control = control;
        }

        @Override
        public void onStep(StepReport s) {
            long now = System.nanoTime();
            boolean last = s.step() >= s.totalSteps();
            if (last || now - lastProgressNanos >= config.progressInterval().toNanos()) {
                lastProgressNanos = now;
                Double loss = Double.isFinite(s.loss()) ? s.loss() : null;
                Double sps = Double.isFinite(s.samplesPerSecond()) ? s.samplesPerSecond() : null;
                events.publishAsync(new JobEvent(
                        Schema.CURRENT,
                        job.jobId(),
                        JobEventType.PROGRESS,
                        clock.instant(),
                        job.attempt(),
                        config.trainerId(),
                        new Progress((int) s.step(), (int) s.totalSteps(), loss, sps),
                        null,
                        null));
            }
            LOG.debug(
                    "training job {} step {}/{} loss {} samples/s {}",
                    job.jobId(),
                    s.step(),
                    s.totalSteps(),
                    s.loss(),
                    s.samplesPerSecond());
        }

        @Override
        public void onMessage(String message) {
            LOG.info("training job {}: {}", job.jobId(), message);
        }

        @Override
        public void onCheckpoint(long step, Path dir) {
            List<String> keys = checkpoints.upload(step, dir);
            LOG.info("training job {}: checkpoint step {} uploaded ({} objects)", job.jobId(), step, keys.size());
        }

        @Override
        public void onValidation(long step, List<Path> files) {
            checkpoints.uploadSamples(step, files);
        }

        @Override
        public boolean isCancelled() {
            return control.isAborted() || cancelled.test(job.jobId());
        }
    }
}
