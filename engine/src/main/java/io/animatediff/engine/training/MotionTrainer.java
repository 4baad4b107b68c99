package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.clip.CLIPTextModel;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.convert.MotionKeys;
import io.animatediff.engine.media.OutputType;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.BaseModelFiles;
import io.animatediff.engine.model.ConfigFiles;
import io.animatediff.engine.model.MotionModuleFile;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.nn.WeightLoader;
import io.animatediff.engine.ops.Ops;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.AnimationResult;
import io.animatediff.engine.pipeline.AnimationWriter;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.schedulers.DDIMScheduler;
import io.animatediff.engine.schedulers.SchedulerConfig;
import io.animatediff.engine.text.ClipTokenizer;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.unet.VideoLayout;
import io.animatediff.engine.vae.AutoencoderKL;
import io.animatediff.engine.vae.DiagonalGaussianDistribution;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Ports the training loop of the official AnimateDiff train.py ({@code main}): a fresh or given motion
 * module inserted into the frozen image model; per step, clips are VAE-encoded to latents (a sample
 * of the latent distribution, times the scaling factor), captions dropped to "" with probability
 * {@code captionDropout}, t ~ U{0, ..., T - 1} per clip, noise ~ N(0, 1), noisy latents from the
 * DDIM schedule's {@code add_noise}, and the epsilon-MSE of the UNet's prediction back-propagated into
 * the motion weights only (or only a MotionLoRA's); gradients accumulate over micro-batches, are
 * clipped to a global norm and applied by {@link AdamW}. Checkpoints ({@link TrainingCheckpoint}) and
 * validation GIFs are written at intervals.
 *
 * <p>Frozen: the VAE, the text encoder and every UNet weight outside {@code motion_modules.} (for a
 * MotionLoRA also the motion module): they never require gradients, so autograd records nothing for
 * them and they stay bit-for-bit unchanged. Memory: weights, optimizer moments and gradients live in
 * the model's manager and are updated in place; each micro-batch and each update runs in a child
 * manager closed at its end, so the number of live arrays stays flat over a run.
 */
public final class MotionTrainer implements AutoCloseable {
    private final TrainingConfig config;
    private final AnimateDiffModel model;
    private final DDIMScheduler noiseScheduler;
    private final Map<String, Param> trainable;
    private final MotionLoraLayers lora;
    private final AdamW optimizer;
    private final ClipDataset dataset;
    private final TrainingListener listener;
    private final long seed;
    private final int numTrainTimesteps;
    private final DatasetMessages datasetMessages;
    private final ExecutorService prefetcher;
    private final ExecutorService microBatchPool; // null: micro-batches on the calling thread
    private StepGradients stepGradients; // summed by parallel micro-batches, until applyGradients
    private final Map<String, float[]> latentCache; // sample key -> (F, 2 L, h, w) moments; null: off
    private Shape frameMoments; // (2 L, h, w), known after the first encode
    private long latentCacheHits;
    private long latentCacheMisses;
    private Future<StepInputs> pending;
    private long step;
    private long clipsSeen;
    private double lastLoss = Double.NaN;
    private ClipDataset.Position consumedPosition;
    private Map<String, Long> consumedSkipped;

    private MotionTrainer(
            TrainingConfig config,
            AnimateDiffModel model,
            Map<String, Param> trainable,
            MotionLoraLayers lora,
            AdamW optimizer,
            ClipDataset dataset,
            DatasetMessages datasetMessages,
            TrainingListener listener,
            long seed,
            TrainingCheckpoint.State resumed) {
        this.config = config;
        this.datasetMessages = datasetMessages;
        this.consumedPosition = dataset.position();
        this.consumedSkipped = dataset.skipped();
        this.prefetcher = config.prefetch()
                ? Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "animatediff-train-prefetch");
                    t.setDaemon(true);
                    return t;
                })
                : null;
        int threads = Math.min(config.microBatchThreads(), config.gradientAccumulation());
        this.microBatchPool = threads > 1
                ? Executors.newFixedThreadPool(threads, new ThreadFactory() {
                    private final AtomicInteger n = new AtomicInteger();

                    @Override
                    public Thread newThread(Runnable r) {
                        Thread t = new Thread(r, "animatediff-train-micro-" + n.incrementAndGet());
                        t.setDaemon(true);
                        return t;
                    }
                })
                : null;
        int cached = config.latentCacheClips();
        this.latentCache = cached > 0
                ? new LinkedHashMap<>(16, 0.75f, true) {
                    @Override
                    protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) {
                        return size() > cached;
                    }
                }
                : null;
        this.model = model;
        this.trainable = Collections.unmodifiableMap(trainable);
        this.lora = lora;
        this.optimizer = optimizer;
        this.dataset = dataset;
        this.listener = listener;
        this.seed = seed;
        SchedulerConfig schedule = SchedulerConfig.animateDiffDefault();
        this.noiseScheduler = new DDIMScheduler(schedule, 0.0);
        this.numTrainTimesteps = schedule.numTrainTimesteps();
        if (resumed != null) {
            step = resumed.step();
            clipsSeen = resumed.clipsSeen();
            lastLoss = resumed.lastLoss();
        }
    }

    /**
     * Loads the model, freezes it, prepares the trainable weights and the optimizer (from the newest
     * complete checkpoint in the output folder when resuming) and opens the data stream.
     */
    public static MotionTrainer open(TrainingConfig config, DatasetSource data, TrainingListener listener)
            throws IOException {
        // 1. resume point
        TrainingCheckpoint.Found found = null;
        if (config.resume()) {
            Optional<TrainingCheckpoint.Found> f =
                    TrainingCheckpoint.newestComplete(config.outDir(), listener::onMessage);
            if (f.isPresent()) {
                found = f.get();
                listener.onMessage("resuming from " + found.dir() + " (step "
                        + found.state().step() + ")");
            } else {
                listener.onMessage("no complete checkpoint in " + config.outDir() + ": starting at step 0");
            }
        }
        TrainingCheckpoint.State state = found == null ? null : found.state();
        if (state != null && state.loraRank() != config.loraRank()) {
            throw new IllegalArgumentException("checkpoint " + found.dir() + " trains "
                    + mode(state.loraRank()) + " but this run asks for " + mode(config.loraRank())
                    + ": pass the same --motion-lora rank, or a fresh --out folder");
        }
        if (state != null && !config.motionLora() && config.motionModule() != null) {
            listener.onMessage("continuing the checkpoint's motion module; --motion-module " + config.motionModule()
                    + " only initialises a new run");
        }
        long seed = config.seed();
        if (state != null && state.seed() != seed) {
            listener.onMessage("the checkpoint was trained with seed " + Long.toUnsignedString(state.seed()) + ", not "
                    + Long.toUnsignedString(seed) + ": continuing with the checkpoint's seed");
            seed = state.seed();
        }

        NDManager manager = NDManager.newBaseManager();
        try {
            // 2. the model: base weights, then the motion module (given, checkpointed or fresh)
            AnimateDiffModel model;
            try (BaseModelFiles files = BaseModelFiles.open(config.baseModel())) {
                ClipTokenizer tokenizer = ClipTokenizer.load(files.tokenizerDir);
                CLIPTextModel text = new CLIPTextModel(files.textConfig);
                WeightLoader.load(text, files.textEncoder, manager);
                AutoencoderKL vae = new AutoencoderKL(files.vaeConfig);
                WeightLoader.load(vae, files.vae, manager);
                Path motionFile = state != null && !config.motionLora()
                        ? found.dir().resolve(TrainingCheckpoint.MOTION_MODULE)
                        : config.motionModule();
                UNet3DConditionModel unet;
                String motionSource;
                if (motionFile != null) {
                    try (MotionModuleFile mm = MotionModuleFile.open(motionFile, config.motionNorm())) {
                        unet = new UNet3DConditionModel(files.unetConfig, mm.config);
                        WeightLoader.load(unet, files.unet, manager, k -> !MotionKeys.isMotionKey(k), k -> false);
                        WeightLoader.load(unet, mm.weights, manager, MotionKeys::isMotionKey, k -> false);
                        motionSource = "motion module " + motionFile;
                    }
                } else {
                    MotionModuleConfig fresh = config.freshMotion().withMotionNorm(config.motionNorm());
                    unet = new UNet3DConditionModel(files.unetConfig, fresh);
                    WeightLoader.load(unet, files.unet, manager, k -> !MotionKeys.isMotionKey(k), k -> false);
                    // only the motion modules are unset: torch's fresh-layer init, proj_out zero
                    unet.initialize(manager, SeedStreams.seed(seed, SeedStreams.Purpose.FRESH_MOTION, 0, 0));
                    motionSource = "a fresh " + fresh.version() + " motion module";
                }
                if (config.frames() > unet.maxFrames()) {
                    throw new IllegalArgumentException("the motion module holds " + unet.maxFrames()
                            + " positions, fewer than the " + config.frames() + " frames per clip asked for:"
                            + " train fewer frames or use a v2/v3 module (32 positions)");
                }
                model = new AnimateDiffModel(
                        manager,
                        tokenizer,
                        text,
                        vae,
                        unet,
                        SchedulerConfig.animateDiffDefault(),
                        files.format + " " + config.baseModel().getFileName() + " + " + motionSource);
            }
            return prepare(config, model, data, listener, found, seed);
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Trains the motion weights of a model that is already built, with no files behind it (the
     * benchmarks' random-weight models at production widths): every motion-module tensor of its UNet
     * must be set (a fresh module: {@code proj_out} zeroed). No resume; the trainer owns the model
     * from here on and closes it.
     */
    public static MotionTrainer open(
            TrainingConfig config, AnimateDiffModel model, DatasetSource data, TrainingListener listener)
            throws IOException {
        if (config.resume() || config.motionLora()) {
            throw new IllegalArgumentException("a built model trains a fresh motion module from step 0:"
                    + " resume and --motion-lora need the model's files (open(config, data, listener))");
        }
        if (config.frames() > model.unet().maxFrames()) {
            throw new IllegalArgumentException(
                    "the motion module holds " + model.unet().maxFrames() + " positions, fewer than the "
                            + config.frames() + " frames per clip asked for");
        }
        try {
            return prepare(config, model, data, listener, null, config.seed());
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Steps 3-5 of {@link #open}: freezing, the trainable weights, the optimizer, the data stream. */
    private static MotionTrainer prepare(
            TrainingConfig config,
            AnimateDiffModel model,
            DatasetSource data,
            TrainingListener listener,
            TrainingCheckpoint.Found found,
            long seed)
            throws IOException {
        TrainingCheckpoint.State state = found == null ? null : found.state();
        NDManager manager = model.manager();
        ClipDataset dataset = null;
        try {
            // 3. freeze everything, then open up the motion weights or a MotionLoRA
            model.textEncoder().setTrainable(false);
            model.vae().setTrainable(false);
            model.unet().setTrainable(false);
            Map<String, Param> trainable = new LinkedHashMap<>();
            MotionLoraLayers lora = null;
            if (config.motionLora()) {
                lora = MotionLoraLayers.attach(model.unet(), config.loraRank(), manager, seed);
                if (state != null) {
                    loadLora(lora, found.dir().resolve(TrainingCheckpoint.MOTION_LORA), manager);
                }
                trainable.putAll(lora.parameters());
            } else {
                model.unet().namedTensors().forEach((k, p) -> {
                    if (MotionKeys.isMotionKey(k) && !p.isBuffer()) {
                        trainable.put(k, p);
                    }
                });
            }
            trainable.values().forEach(p -> p.setTrainable(true)); // after every load: flags live on arrays
            long count =
                    trainable.values().stream().mapToLong(p -> p.shape().size()).sum();
            listener.onMessage(String.format(
                    Locale.ROOT,
                    "training %s: %,d parameters in %d tensors; %s",
                    lora == null ? "the motion module" : "a rank-" + config.loraRank() + " MotionLoRA",
                    count,
                    trainable.size(),
                    model.description()));

            // 4. optimizer
            AdamW optimizer = new AdamW(
                    trainable,
                    manager,
                    config.learningRate(),
                    config.beta1(),
                    config.beta2(),
                    config.epsilon(),
                    config.weightDecay());
            if (state != null) {
                try (TensorSource s = TensorSources.open(found.dir().resolve(TrainingCheckpoint.OPTIMIZER))) {
                    optimizer.load(s, state.step());
                }
            }

            // 5. data; its skip messages are held until the step whose clips they concern starts
            ClipDataset.Position position =
                    state == null ? ClipDataset.Position.START : new ClipDataset.Position(state.epoch(), state.line());
            DatasetMessages messages = new DatasetMessages();
            dataset = ClipDataset.open(
                    data,
                    config.frames(),
                    config.stride(),
                    config.size(),
                    seed,
                    position,
                    state == null ? Map.of() : state.skipped(),
                    messages,
                    config.randomFlip());
            return new MotionTrainer(
                    config, model, trainable, lora, optimizer, dataset, messages, listener, seed, state);
        } catch (IOException | RuntimeException e) {
            if (dataset != null) {
                dataset.close();
            }
            throw e;
        }
    }

    private static String mode(int loraRank) {
        return loraRank > 0 ? "a rank-" + loraRank + " MotionLoRA" : "the motion module (no --motion-lora)";
    }

    /** Restores a checkpoint's MotionLoRA tensors, strictly. */
    private static void loadLora(MotionLoraLayers lora, Path file, NDManager manager) throws IOException {
        try (TensorSource src = TensorSources.open(file)) {
            Set<String> want = lora.parameters().keySet();
            Set<String> have = new LinkedHashSet<>(src.keys());
            if (!have.equals(want)) {
                Set<String> missing = new LinkedHashSet<>(want);
                missing.removeAll(have);
                Set<String> unexpected = new LinkedHashSet<>(have);
                unexpected.removeAll(want);
                throw new IllegalArgumentException(file + " does not fit the MotionLoRA being trained: missing "
                        + missing.stream().limit(5).toList() + ", unexpected "
                        + unexpected.stream().limit(5).toList());
            }
            for (Map.Entry<String, Param> e : lora.parameters().entrySet()) {
                e.getValue().set(src.load(e.getKey(), manager));
            }
        }
    }

    /**
     * Trains until {@link TrainingConfig#steps()} optimizer steps are done, checkpointing every
     * {@code checkpointEvery} steps and at the end, writing validation samples every
     * {@code validateEvery} steps and at the end.
     */
    public TrainingResult train() throws IOException {
        Path last = null;
        boolean cancelled = false;
        if (step >= config.steps()) {
            listener.onMessage("already at step " + step + " of " + config.steps() + ": nothing to train");
        }
        while (step < config.steps()) {
            if (listener.isCancelled()) {
                cancelled = true;
                break;
            }
            listener.onStep(step());
            boolean end = step == config.steps();
            if (step % config.checkpointEvery() == 0 || end) {
                last = saveCheckpoint();
            }
            if (config.validateEvery() > 0 && (step % config.validateEvery() == 0 || end)) {
                validate();
            }
        }
        return new TrainingResult(step, lastLoss, last, cancelled, consumedSkipped);
    }

    /** One optimizer step: {@link #accumulateGradients()} then {@link #applyGradients()}. */
    public StepReport step() throws IOException {
        long t0 = System.nanoTime();
        double loss = accumulateGradients();
        double norm = applyGradients();
        double seconds = (System.nanoTime() - t0) / 1e9;
        return new StepReport(
                step,
                config.steps(),
                loss,
                norm,
                config.clipsPerStep() / seconds,
                seconds,
                consumedPosition.epoch(),
                consumedSkipped.values().stream().mapToLong(Long::longValue).sum());
    }

    /**
     * Forward and backward passes of the step's micro-batches: gradients accumulate in the trainable
     * weights' {@code .grad}. Returns the mean loss.
     */
    public double accumulateGradients() throws IOException {
        double sum = 0;
        try (StepInputs in = takeInputs()) {
            if (prefetcher != null && step + 1 < config.steps()) {
                long next = step + 1;
                pending = prefetcher.submit(() -> stepInputs(next));
            }
            in.messages().forEach(listener::onMessage);
            if (microBatchPool != null) {
                sum = parallelMicroBatches(in);
            } else {
                for (int micro = 0; micro < config.gradientAccumulation(); micro++) {
                    try (NDManager scope = model.manager().newSubManager()) {
                        sum += microBatch(micro, in, scope);
                    }
                }
            }
            consumedPosition = in.position();
            consumedSkipped = in.skipped();
        }
        lastLoss = sum / config.gradientAccumulation();
        return lastLoss;
    }

    /** This step's inputs: prefetched while the previous step trained, or prepared now. */
    private StepInputs takeInputs() throws IOException {
        Future<StepInputs> f = pending;
        pending = null;
        if (f == null) {
            return stepInputs(step);
        }
        StepInputs in = await(f, "waiting for the inputs of step " + step, "preparing the inputs of step " + step);
        if (in.step() != step) {
            in.close();
            throw new IllegalStateException("prefetched the inputs of step " + in.step() + " but step " + step
                    + " is next: call accumulateGradients and applyGradients alternately");
        }
        return in;
    }

    /**
     * The inputs of optimizer step {@code forStep}, which need no gradients: its clips read from the
     * stream, VAE-encoded to latents, and their captions (dropped for classifier-free guidance)
     * encoded to text embeddings, per micro-batch, in a manager of their own. Runs on the prefetch
     * thread (while the previous step trains) or on the calling thread; every random draw is seeded
     * by (seed, purpose, step, ...), so both give the same arrays.
     */
    private StepInputs stepInputs(long forStep) throws IOException {
        int b = config.batchSize();
        int f = config.frames();
        int s = config.size();
        int a = config.gradientAccumulation();
        NDManager m = NDManager.newBaseManager();
        try (NoGrad noGrad = new NoGrad()) { // grad mode is per thread: off on this one too
            NDArray[] latents = new NDArray[a];
            NDArray[] text = new NDArray[a];
            for (int micro = 0; micro < a; micro++) {
                // clips (B, F, 3, S, S) in [-1, 1]
                List<ClipDataset.Clip> clips = new ArrayList<>(b);
                float[] pixels = new float[b * f * 3 * s * s];
                for (int i = 0; i < b; i++) {
                    ClipDataset.Clip clip = dataset.next();
                    System.arraycopy(clip.pixels(), 0, pixels, i * clip.pixels().length, clip.pixels().length);
                    clips.add(clip);
                }
                // latents (B, 4, F, h, w), frozen VAE
                latents[micro] = latentCache == null
                        ? encodeLatents(m.create(pixels, new Shape(b, f, 3, s, s)), forStep, micro, m)
                        : cachedLatents(clips, forStep, micro, m);
                // text (B, S, C) with captions dropped for classifier-free guidance
                text[micro] = encodeText(captions(clips, forStep, micro), m);
            }
            return new StepInputs(
                    forStep, m, latents, text, dataset.position(), dataset.skipped(), datasetMessages.drain());
        } catch (IOException | RuntimeException | Error e) {
            m.close();
            throw e;
        }
    }

    /**
     * Clips the accumulated gradients to the global norm, applies AdamW and zeroes the gradients; the
     * step counter advances. Returns the gradient norm before clipping.
     */
    public double applyGradients() {
        double norm;
        if (stepGradients != null) {
            try (StepGradients g = stepGradients) {
                stepGradients = null;
                norm = GradientStep.applyGradients(g.byName(), optimizer, config.maxGradNorm(), model.manager());
            }
        } else {
            norm = GradientStep.apply(trainable, optimizer, config.maxGradNorm(), model.manager());
        }
        step++;
        return norm;
    }

    /**
     * The step's micro-batches on the pool, each its own forward and {@code torch.autograd.grad}
     * (grad mode is per thread: switched on in each task); the gradients are summed in micro-batch
     * order, g0 + g1 + ..., the order in which one thread's backward passes accumulate them in
     * {@code .grad}, so the weights come out bit-identical. Holds one gradient copy per micro-batch
     * finished ahead of the sum. Returns the summed (undivided) losses.
     */
    private double parallelMicroBatches(StepInputs in) throws IOException {
        int a = config.gradientAccumulation();
        List<String> names = new ArrayList<>(trainable.keySet());
        List<NDArray> weights = new ArrayList<>(names.size());
        for (String name : names) {
            weights.add(trainable.get(name).get());
        }
        NDManager gradsManager = model.manager().newSubManager();
        List<Future<MicroGradients>> futures = new ArrayList<>(a);
        for (int micro = 0; micro < a; micro++) {
            int m = micro;
            futures.add(microBatchPool.submit(() -> {
                NDManager scope = gradsManager.newSubManager();
                try (Recording recording = new Recording()) {
                    NDArray mse = microBatchLoss(m, in, scope); // () loss of the micro-batch
                    double loss = mse.getFloat();
                    NDArray[] grads = Ops.gradients(a == 1 ? mse : mse.div(a), weights);
                    return new MicroGradients(loss, grads, scope);
                } catch (RuntimeException | Error e) {
                    scope.close();
                    throw e;
                }
            }));
        }
        double sum = 0;
        NDArray[] total = null;
        try (NoGrad noGrad = new NoGrad()) {
            for (int micro = 0; micro < a; micro++) {
                MicroGradients g = await(
                        futures.get(micro),
                        "micro-batch " + micro + " of step " + step + " ran",
                        "micro-batch " + micro + " of step " + step);
                sum += g.loss();
                if (total == null) {
                    total = g.grads();
                    for (NDArray x : total) {
                        x.attach(gradsManager); // outlives the micro-batch's activations
                    }
                } else {
                    for (int i = 0; i < total.length; i++) {
                        total[i].addi(g.grads()[i]);
                    }
                }
                g.scope().close();
            }
        } catch (IOException | RuntimeException | Error e) {
            for (Future<MicroGradients> f : futures) {
                f.cancel(false);
            }
            gradsManager.close();
            throw e;
        }
        Map<String, NDArray> byName = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            byName.put(names.get(i), total[i]);
        }
        stepGradients = new StepGradients(byName, gradsManager);
        clipsSeen += (long) a * config.batchSize();
        return sum;
    }

    /**
     * The result of work on another thread: its IOException, RuntimeException or Error rethrown as
     * is, another cause wrapped as "{@code failed} failed: ...", an interrupt as "interrupted while
     * {@code waiting}".
     */
    private static <T> T await(Future<T> f, String waiting, String failed) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while " + waiting, e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IOException(failed + " failed: " + cause, cause);
        }
    }

    /** One micro-batch's loss and gradients (in trainable order), owned by {@code scope}. */
    private record MicroGradients(double loss, NDArray[] grads, NDManager scope) {}

    /** A step's summed gradients by weight name, owned by {@code manager}. */
    private record StepGradients(Map<String, NDArray> byName, NDManager manager) implements AutoCloseable {
        @Override
        public void close() {
            manager.close();
        }
    }

    /** One micro-batch's forward and backward; returns its (undivided) loss. */
    private double microBatch(int micro, StepInputs in, NDManager scope) {
        // 5. epsilon-MSE, backward into the trainable weights
        double loss;
        try (Recording collector = new Recording()) {
            NDArray mse = microBatchLoss(micro, in, scope);
            loss = mse.getFloat();
            int a = config.gradientAccumulation();
            collector.backward(a == 1 ? mse : mse.div(a));
        }
        clipsSeen += config.batchSize();
        return loss;
    }

    /** One micro-batch's forward with autograd recording (the caller's grad mode): its () epsilon-MSE. */
    private NDArray microBatchLoss(int micro, StepInputs in, NDManager scope) {
        int b = config.batchSize();
        NDArray latents = in.latents()[micro]; // (B, 4, F, h, w)
        NDArray text = in.text()[micro]; // (B, S, C)
        latents.attach(scope);
        text.attach(scope);
        // 4. t ~ U{0..T-1} per clip, noise ~ N(0, 1), forward diffusion
        int[] t = timesteps(micro, b);
        NDArray noise = TorchRandom.randn(
                scope, latents.getShape(), SeedStreams.seed(seed, SeedStreams.Purpose.NOISE, step, micro));
        NDArray noisy = noiseScheduler.addNoise(latents, noise, t);
        float[] tf = new float[b];
        for (int i = 0; i < b; i++) {
            tf[i] = t[i];
        }
        NDArray timesteps = scope.create(tf, new Shape(b)); // (B)
        NDArray pred = model.unet().forward(noisy, timesteps, text); // (B, 4, F, h, w)
        return pred.sub(noise).square().mean();
    }

    /**
     * video (B, F, 3, S, S) -> latents (B, 4, F, S/8, S/8): a sample of the VAE's latent distribution
     * (seeded noise for all frames at once, as {@code latent_dist.sample()}), times the scaling factor.
     */
    private NDArray encodeLatents(NDArray video, long forStep, int micro, NDManager scope) {
        int f = (int) video.getShape().get(1);
        NDArray moments = encodeMoments(video, scope);
        video.close();
        return sampleLatents(moments, f, forStep, micro, scope);
    }

    /** video (B, F, 3, S, S) -> the VAE's moments ((B F), 2 L, h, w): mean and log variance, vaeChunk frames per call. */
    private NDArray encodeMoments(NDArray video, NDManager scope) {
        Shape vs = video.getShape();
        long b = vs.get(0);
        int f = (int) vs.get(1);
        NDArray images = video.reshape(b * f, vs.get(2), vs.get(3), vs.get(4)); // ((B F), 3, S, S)
        long n = b * f;
        int chunk = config.vaeChunk();
        List<NDArray> moments = new ArrayList<>();
        for (long start = 0; start < n; start += chunk) {
            long end = Math.min(n, start + chunk);
            try (NDManager part = scope.newSubManager()) {
                NDArray x = images.get(new NDIndex("{}:{}", start, end));
                x.attach(part);
                DiagonalGaussianDistribution d = model.vae().latentDist(x);
                NDArray m = NDArrays.concat(new NDList(d.mean(), d.logvar()), 1); // (n, 2 L, h, w)
                m.attach(scope);
                moments.add(m);
            }
        }
        return moments.size() == 1 ? moments.get(0) : NDArrays.concat(new NDList(moments), 0);
    }

    /** moments ((B F), 2 L, h, w) -> latents (B, L, F, h, w): the step's seeded sample, scaled. */
    private NDArray sampleLatents(NDArray moments, int f, long forStep, int micro, NDManager scope) {
        DiagonalGaussianDistribution dist = new DiagonalGaussianDistribution(moments);
        NDArray noise = TorchRandom.randn(
                scope, dist.mean().getShape(), SeedStreams.seed(seed, SeedStreams.Purpose.LATENT, forStep, micro));
        NDArray z = VideoLayout.unfold(dist.sample(noise), f); // (B, 4, F, h, w)
        return model.vae().scale(z);
    }

    /**
     * As {@link #encodeLatents} with the moments of clip samples seen before taken from the cache:
     * the clips missing from it are encoded together, in order (a micro-batch of new clips encodes
     * exactly as without the cache), and stored.
     */
    private NDArray cachedLatents(List<ClipDataset.Clip> clips, long forStep, int micro, NDManager scope) {
        int f = config.frames();
        int s = config.size();
        List<ClipDataset.Clip> misses = new ArrayList<>();
        for (ClipDataset.Clip c : clips) {
            String key = c.sampleKey();
            if (!latentCache.containsKey(key)
                    && misses.stream().noneMatch(m -> m.sampleKey().equals(key))) {
                misses.add(c);
            }
        }
        Map<String, float[]> fresh = new LinkedHashMap<>();
        if (!misses.isEmpty()) {
            int frame = 3 * s * s;
            float[] pixels = new float[misses.size() * f * frame];
            for (int i = 0; i < misses.size(); i++) {
                System.arraycopy(misses.get(i).pixels(), 0, pixels, i * f * frame, f * frame);
            }
            NDArray moments = encodeMoments(scope.create(pixels, new Shape(misses.size(), f, 3, s, s)), scope);
            float[] all = moments.toFloatArray(); // ((M F), 2 L, h, w)
            int per = all.length / misses.size();
            for (int i = 0; i < misses.size(); i++) {
                float[] one = new float[per];
                System.arraycopy(all, i * per, one, 0, per);
                fresh.put(misses.get(i).sampleKey(), one);
            }
            Shape ms = moments.getShape();
            frameMoments = new Shape(ms.get(1), ms.get(2), ms.get(3)); // (2 L, h, w)
            moments.close();
        }
        float[][] parts = new float[clips.size()][];
        for (int i = 0; i < clips.size(); i++) {
            String key = clips.get(i).sampleKey();
            float[] cached = fresh.containsKey(key) ? fresh.get(key) : latentCache.get(key);
            parts[i] = cached;
        }
        latentCache.putAll(fresh);
        latentCacheMisses += misses.size();
        latentCacheHits += clips.size() - misses.size();
        int per = parts[0].length;
        float[] joined = new float[clips.size() * per];
        for (int i = 0; i < parts.length; i++) {
            System.arraycopy(parts[i], 0, joined, i * per, per);
        }
        NDArray moments =
                scope.create(joined, new Shape((long) clips.size() * f).addAll(frameMoments)); // ((B F), 2 L, h, w)
        return sampleLatents(moments, f, forStep, micro, scope);
    }

    /** Captions with each one dropped to "" with probability captionDropout (seeded per clip). */
    private List<String> captions(List<ClipDataset.Clip> clips, long forStep, int micro) {
        List<String> out = new ArrayList<>(clips.size());
        for (int i = 0; i < clips.size(); i++) {
            long index = (long) micro * config.batchSize() + i;
            SplittableRandom r =
                    new SplittableRandom(SeedStreams.seed(seed, SeedStreams.Purpose.CAPTION, forStep, index));
            out.add(r.nextDouble() < config.captionDropout() ? "" : clips.get(i).caption());
        }
        return out;
    }

    /** captions (B) -> (B, S, C): tokenised to 77 tokens (longer captions truncated, as the reference). */
    private NDArray encodeText(List<String> captions, NDManager scope) {
        int len = model.tokenizer().maxLength();
        long[] ids = new long[captions.size() * len];
        for (int i = 0; i < captions.size(); i++) {
            int[] tok = model.tokenizer().encode(captions.get(i)).ids();
            for (int j = 0; j < len; j++) {
                ids[i * len + j] = tok[j];
            }
        }
        return model.textEncoder().forward(scope.create(ids, new Shape(captions.size(), len)));
    }

    private int[] timesteps(int micro, int b) {
        SplittableRandom r = new SplittableRandom(SeedStreams.seed(seed, SeedStreams.Purpose.TIMESTEP, step, micro));
        int[] t = new int[b];
        for (int i = 0; i < b; i++) {
            t[i] = r.nextInt(numTrainTimesteps);
        }
        return t;
    }

    /** Writes a checkpoint of the current state to {@code <out>/step-<n>/}. */
    public Path saveCheckpoint() throws IOException {
        Map<String, NDArray> weights = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        if (lora != null) {
            lora.parameters().forEach((k, p) -> weights.put(k, p.get()));
            meta.put("animatediff.motion_lora.rank", Integer.toString(config.loraRank()));
        } else {
            model.unet().namedTensors().forEach((k, p) -> {
                if (MotionKeys.isMotionKey(k)) {
                    weights.put(k, p.get()); // with the positional tables, as official checkpoints
                }
            });
            meta.put(
                    MotionModuleFile.CONFIG_METADATA,
                    ConfigFiles.JSON.writeValueAsString(model.unet().motion()));
        }
        meta.put("animatediff.training.step", Long.toString(step));
        ClipDataset.Position pos = consumedPosition; // the stream itself may be read ahead by the prefetch
        TrainingCheckpoint.State state = new TrainingCheckpoint.State(
                TrainingCheckpoint.FORMAT,
                step,
                seed,
                config.loraRank(),
                pos.epoch(),
                pos.line(),
                clipsSeen,
                consumedSkipped,
                lastLoss);
        Path dir = TrainingCheckpoint.write(config.outDir(), state, weights, meta, optimizer.state());
        listener.onCheckpoint(step, dir);
        return dir;
    }

    /**
     * Generates one GIF per validation prompt with the current weights (the pipeline, seeded by the
     * run seed) into {@code <out>/samples/step-<n>/<i>.gif}.
     */
    public List<Path> validate() throws IOException {
        Path dir = config.outDir().resolve("samples").resolve("step-" + step);
        List<Path> written = new ArrayList<>();
        AnimationPipeline pipeline = new AnimationPipeline(model);
        try (NoGrad noGrad = new NoGrad()) {
            List<String> prompts = config.validationPrompts();
            for (int i = 0; i < prompts.size(); i++) {
                AnimationParams params = AnimationParams.builder()
                        .prompt(prompts.get(i))
                        .negativePrompt("")
                        .frames(config.frames())
                        .size(config.size(), config.size())
                        .steps(config.validationSteps())
                        .guidanceScale(config.validationGuidance())
                        .seed(seed)
                        .build();
                AnimationResult result = pipeline.run(params, StepListener.NONE, true);
                written.addAll(AnimationWriter.write(
                        result, OutputType.GIF, AnimationPipeline.DEFAULT_FPS, dir.resolve(i + ".gif")));
            }
        }
        listener.onValidation(step, written);
        return written;
    }

    /** Optimizer steps done. */
    /** Clip samples whose moments came from the latent cache, and those encoded (both 0 with no cache). */
    long[] latentCacheCounts() {
        return new long[] {latentCacheHits, latentCacheMisses};
    }

    public long stepsDone() {
        return step;
    }

    /** Clips trained on so far. */
    public long clipsSeen() {
        return clipsSeen;
    }

    /** The run seed in force (a resumed run keeps its checkpoint's). */
    public long seed() {
        return seed;
    }

    /** The model being trained (its manager owns every weight and the optimizer state). */
    public AnimateDiffModel model() {
        return model;
    }

    /** The trained tensors by key: motion-module keys, or MotionLoRA file keys. */
    public Map<String, Param> trainableParameters() {
        return trainable;
    }

    /** The MotionLoRA adapters, or null when training the motion module. */
    public MotionLoraLayers motionLora() {
        return lora;
    }

    public TrainingConfig config() {
        return config;
    }

    public ClipDataset dataset() {
        return dataset;
    }

    /**
     * Where the data stream resumes after the steps done: the position after the last step's clips
     * (the stream itself may already be read ahead by the prefetch). Checkpoints store it.
     */
    public ClipDataset.Position dataPosition() {
        return consumedPosition;
    }

    /** Clips skipped by reason up to the last step's clips (carried-over counts included). */
    public Map<String, Long> skipped() {
        return consumedSkipped;
    }

    /** Stops the prefetch (waiting for a preparation under way, its arrays released), then frees everything. */
    @Override
    public void close() throws IOException {
        try {
            if (microBatchPool != null) {
                microBatchPool.shutdown();
            }
            if (stepGradients != null) {
                stepGradients.close();
                stepGradients = null;
            }
            if (prefetcher != null) {
                Future<StepInputs> f = pending;
                pending = null;
                prefetcher.shutdown();
                if (f != null) {
                    try {
                        f.get().close();
                    } catch (ExecutionException e) {
                        // the step it was for never runs: nothing to report
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                try {
                    prefetcher.awaitTermination(1, TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            dataset.close();
        } finally {
            model.close();
        }
    }

    /**
     * The inputs of one optimizer step, per micro-batch, owned by {@code manager} until a micro-batch
     * attaches them to its scope.
     *
     * @param latents per micro-batch (B, 4, F, h, w), scaled
     * @param text per micro-batch (B, S, C)
     * @param position the data stream's position after this step's clips
     * @param skipped skip counts after this step's clips
     * @param messages the stream's skip messages while reading them
     */
    private record StepInputs(
            long step,
            NDManager manager,
            NDArray[] latents,
            NDArray[] text,
            ClipDataset.Position position,
            Map<String, Long> skipped,
            List<String> messages)
            implements AutoCloseable {
        @Override
        public void close() {
            manager.close();
        }
    }

    /** The data stream's messages, held until the step whose clips they concern starts. */
    private static final class DatasetMessages implements Consumer<String> {
        private final List<String> held = new ArrayList<>();

        @Override
        public synchronized void accept(String message) {
            held.add(message);
        }

        synchronized List<String> drain() {
            List<String> out = List.copyOf(held);
            held.clear();
            return out;
        }
    }
}
