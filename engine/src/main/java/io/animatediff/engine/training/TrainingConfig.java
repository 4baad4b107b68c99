package io.animatediff.engine.training;

import io.animatediff.engine.config.MotionModuleConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One training run, with the official train.py's names and configs/training/v1/training.yaml's
 * defaults (AdamW lr 1e-4, betas 0.9/0.999, weight decay 1e-2, eps 1e-8, max_grad_norm 1.0, 16 frames
 * at stride 4, 256 px, batch 4, 10% captions dropped, fresh v1 motion modules). Built with
 * {@link #builder()}; the constructor refuses bad values, naming every problem at once.
 *
 * @param baseModel the frozen image model (diffusers folder or single-file checkpoint)
 * @param motionModule initial motion module (unet_checkpoint_path), or null for a fresh one
 * @param freshMotion the architecture of a fresh motion module (used when motionModule is null)
 * @param motionNorm the motion module's GroupNorm statistics (official: per frame)
 * @param loraRank 0 trains the motion module; r > 0 trains a MotionLoRA of rank r on the motion
 *     attention projections with the motion module frozen too (needs motionModule)
 * @param outDir where checkpoints ({@code step-<n>/}) and validation samples go
 * @param resume continue from the newest complete checkpoint in outDir (fresh start if none)
 * @param steps optimizer steps to reach (max_train_steps)
 * @param batchSize clips per micro-batch (train_batch_size)
 * @param gradientAccumulation micro-batches per optimizer step
 * @param frames F, frames per clip (sample_n_frames)
 * @param stride frames skipped between sampled frames (sample_stride)
 * @param size training resolution S (sample_size): resize the short side, centre-crop S x S
 * @param learningRate constant learning rate
 * @param beta1 AdamW beta1
 * @param beta2 AdamW beta2
 * @param weightDecay AdamW decoupled weight decay
 * @param epsilon AdamW eps
 * @param maxGradNorm global gradient-norm clip (max_grad_norm)
 * @param captionDropout probability a caption becomes "" (cfg_random_null_text_ratio)
 * @param checkpointEvery steps between checkpoints (checkpointing_steps); one is always written at the end
 * @param validateEvery steps between validation samples; 0 = none
 * @param validationPrompts prompts of the validation GIFs
 * @param validationSteps denoising steps of a validation sample
 * @param validationGuidance guidance scale of a validation sample
 * @param seed run seed (global_seed), unsigned 64-bit bit pattern
 * @param vaeChunk frames the VAE encodes per call (memory bound, no effect on results)
 * @param randomFlip flip clips left to right at random (the reference's RandomHorizontalFlip); off
 *     when captions name a left/right direction
 * @param prefetch prepare the next step's inputs (clip decoding, resizing, cropping, the frozen VAE
 *     encode and text encoding) on a second thread while the current step trains; no effect on
 *     results (the same seed gives bit-identical weights either way)
 * @param microBatchThreads threads running a step's micro-batches concurrently, each its own forward
 *     and backward ({@code torch.autograd.grad}), their gradients summed in micro-batch order: the
 *     same weights as one thread, bit for bit. Pays where one op cannot use the cores (small models,
 *     one intra-op thread each); 1 = the micro-batches one after another on the calling thread
 * @param latentCacheClips clip samples whose latent distribution (the frozen VAE's mean and log
 *     variance) is kept in memory, keyed by video, start frame and flip, so a later epoch skips the
 *     encoder (the sample itself is still drawn per step, seeded); 0 = encode every step. Pays on
 *     small datasets seen for many epochs; F x 8 x (S/8)^2 floats per clip
 */
public record TrainingConfig(
        Path baseModel,
        Path motionModule,
        MotionModuleConfig freshMotion,
        MotionModuleConfig.MotionNorm motionNorm,
        int loraRank,
        Path outDir,
        boolean resume,
        int steps,
        int batchSize,
        int gradientAccumulation,
        int frames,
        int stride,
        int size,
        double learningRate,
        double beta1,
        double beta2,
        double weightDecay,
        double epsilon,
        double maxGradNorm,
        double captionDropout,
        int checkpointEvery,
        int validateEvery,
        List<String> validationPrompts,
        int validationSteps,
        double validationGuidance,
        long seed,
        int vaeChunk,
        boolean randomFlip,
        boolean prefetch,
        int microBatchThreads,
        int latentCacheClips) {

    /** The four validation prompts of configs/training/v1/training.yaml. */
    public static final List<String> OFFICIAL_VALIDATION_PROMPTS = List.of(
            "Snow rocky mountains peaks canyon. Snow blanketed rocky mountains surround and shadow deep canyons.",
            "A drone view of celebration with Christma tree and fireworks, starry sky - background.",
            "Robot dancing in times square.",
            "Pacific coast, carmel by the sea ocean and waves.");

    public TrainingConfig {
        validationPrompts = validationPrompts == null ? List.of() : List.copyOf(validationPrompts);
        List<String> p = new ArrayList<>();
        if (baseModel == null) {
            p.add("baseModel: give the base image model (diffusers folder or .safetensors)");
        }
        if (outDir == null) {
            p.add("outDir: give a folder for checkpoints");
        }
        if (motionModule == null && freshMotion == null) {
            p.add("freshMotion: a fresh motion module needs its architecture (v1, v2, v3) or pass a motion module");
        }
        if (motionNorm == null) {
            p.add("motionNorm: official or diffusers");
        }
        if (loraRank < 0) {
            p.add("loraRank: " + loraRank + " must be 0 (train the motion module) or a positive rank");
        }
        if (loraRank > 0 && motionModule == null) {
            p.add("loraRank: a MotionLoRA trains on top of a trained motion module: pass --motion-module");
        }
        if (steps < 1) {
            p.add("steps: " + steps + " must be >= 1");
        }
        if (batchSize < 1) {
            p.add("batchSize: " + batchSize + " must be >= 1");
        }
        if (gradientAccumulation < 1) {
            p.add("gradientAccumulation: " + gradientAccumulation + " must be >= 1");
        }
        if (frames < 1) {
            p.add("frames: " + frames + " must be >= 1");
        }
        if (motionModule == null && freshMotion != null && frames > freshMotion.maxFrames()) {
            p.add("frames: " + frames + " exceeds the " + freshMotion.maxFrames() + " positions of a fresh "
                    + freshMotion.version() + " motion module: train fewer frames or pick v2/v3 (32)");
        }
        if (stride < 1) {
            p.add("stride: " + stride + " must be >= 1");
        }
        if (size < 8 || size % 8 != 0) {
            p.add("size: " + size + " must be a positive multiple of 8 (the VAE downsamples by 8)");
        }
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            p.add("learningRate: " + learningRate + " must be a finite number > 0");
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            p.add("betas: (" + beta1 + ", " + beta2 + ") must lie in [0, 1)");
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            p.add("weightDecay: " + weightDecay + " must be a finite number >= 0");
        }
        if (!(epsilon > 0)) {
            p.add("epsilon: " + epsilon + " must be > 0");
        }
        if (!(maxGradNorm > 0)) {
            p.add("maxGradNorm: " + maxGradNorm + " must be > 0");
        }
        if (!(captionDropout >= 0 && captionDropout <= 1)) {
            p.add("captionDropout: " + captionDropout + " must lie in [0, 1]");
        }
        if (checkpointEvery < 1) {
            p.add("checkpointEvery: " + checkpointEvery + " must be >= 1");
        }
        if (validateEvery < 0) {
            p.add("validateEvery: " + validateEvery + " must be >= 0 (0 = no validation samples)");
        }
        if (validateEvery > 0 && validationPrompts.isEmpty()) {
            p.add("validationPrompts: validation samples need at least one prompt");
        }
        if (validationSteps < 1) {
            p.add("validationSteps: " + validationSteps + " must be >= 1");
        }
        if (vaeChunk < 1) {
            p.add("vaeChunk: " + vaeChunk + " must be >= 1");
        }
        if (microBatchThreads < 1) {
            p.add("microBatchThreads: " + microBatchThreads + " must be >= 1 (1 = micro-batches one after another)");
        }
        if (latentCacheClips < 0) {
            p.add("latentCacheClips: " + latentCacheClips + " must be >= 0 (0 = no cache)");
        }
        if (!p.isEmpty()) {
            throw new IllegalArgumentException("invalid training configuration:\n  " + String.join("\n  ", p));
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** True when training a MotionLoRA rather than the motion module. */
    public boolean motionLora() {
        return loraRank > 0;
    }

    /** Clips per optimizer step: batch size x gradient accumulation. */
    public int clipsPerStep() {
        return batchSize * gradientAccumulation;
    }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.baseModel = baseModel;
        b.motionModule = motionModule;
        b.freshMotion = freshMotion;
        b.motionNorm = motionNorm;
        b.loraRank = loraRank;
        b.outDir = outDir;
        b.resume = resume;
        b.steps = steps;
        b.batchSize = batchSize;
        b.gradientAccumulation = gradientAccumulation;
        b.frames = frames;
        b.stride = stride;
        b.size = size;
        b.learningRate = learningRate;
        b.beta1 = beta1;
        b.beta2 = beta2;
        b.weightDecay = weightDecay;
        b.epsilon = epsilon;
        b.maxGradNorm = maxGradNorm;
        b.captionDropout = captionDropout;
        b.checkpointEvery = checkpointEvery;
        b.validateEvery = validateEvery;
        b.validationPrompts = validationPrompts;
        b.validationSteps = validationSteps;
        b.validationGuidance = validationGuidance;
        b.seed = seed;
        b.vaeChunk = vaeChunk;
        b.randomFlip = randomFlip;
        b.prefetch = prefetch;
        b.microBatchThreads = microBatchThreads;
        b.latentCacheClips = latentCacheClips;
        return b;
    }

    /** Builder with the official training defaults. */
    public static final class Builder {
        private Path baseModel;
        private Path motionModule;
        private MotionModuleConfig freshMotion = MotionModuleConfig.v1();
        private MotionModuleConfig.MotionNorm motionNorm = MotionModuleConfig.MotionNorm.OFFICIAL;
        private int loraRank;
        private Path outDir;
        private boolean resume;
        private int steps = 100;
        private int batchSize = 4;
        private int gradientAccumulation = 1;
        private int frames = 16;
        private int stride = 4;
        private int size = 256;
        private double learningRate = 1e-4;
        private double beta1 = 0.9;
        private double beta2 = 0.999;
        private double weightDecay = 1e-2;
        private double epsilon = 1e-8;
        private double maxGradNorm = 1.0;
        private double captionDropout = 0.1;
        private int checkpointEvery = 100;
        private int validateEvery;
        private List<String> validationPrompts = OFFICIAL_VALIDATION_PROMPTS;
        private int validationSteps = 25;
        private double validationGuidance = 8.0;
        private long seed = 42;
        private int vaeChunk = 16;
        private boolean randomFlip = true;
        private boolean prefetch = true;
        private int microBatchThreads = 1;
        private int latentCacheClips;

        public Builder baseModel(Path v) {
            baseModel = v;
            return this;
        }

        public Builder motionModule(Path v) {
            motionModule = v;
            return this;
        }

        public Builder freshMotion(MotionModuleConfig v) {
            freshMotion = v;
            return this;
        }

        public Builder motionNorm(MotionModuleConfig.MotionNorm v) {
            motionNorm = v;
            return this;
        }

        public Builder loraRank(int v) {
            loraRank = v;
            return this;
        }

        public Builder outDir(Path v) {
            outDir = v;
            return this;
        }

        public Builder resume(boolean v) {
            resume = v;
            return this;
        }

        public Builder steps(int v) {
            steps = v;
            return this;
        }

        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        public Builder gradientAccumulation(int v) {
            gradientAccumulation = v;
            return this;
        }

        public Builder frames(int v) {
            frames = v;
            return this;
        }

        public Builder stride(int v) {
            stride = v;
            return this;
        }

        public Builder size(int v) {
            size = v;
            return this;
        }

        public Builder learningRate(double v) {
            learningRate = v;
            return this;
        }

        public Builder betas(double b1, double b2) {
            beta1 = b1;
            beta2 = b2;
            return this;
        }

        public Builder weightDecay(double v) {
            weightDecay = v;
            return this;
        }

        public Builder epsilon(double v) {
            epsilon = v;
            return this;
        }

        public Builder maxGradNorm(double v) {
            maxGradNorm = v;
            return this;
        }

        public Builder captionDropout(double v) {
            captionDropout = v;
            return this;
        }

        public Builder checkpointEvery(int v) {
            checkpointEvery = v;
            return this;
        }

        public Builder validateEvery(int v) {
            validateEvery = v;
            return this;
        }

        public Builder validationPrompts(List<String> v) {
            validationPrompts = v;
            return this;
        }

        public Builder validationSteps(int v) {
            validationSteps = v;
            return this;
        }

        public Builder validationGuidance(double v) {
            validationGuidance = v;
            return this;
        }

        public Builder seed(long unsignedSeed) {
            seed = unsignedSeed;
            return this;
        }

        public Builder vaeChunk(int v) {
            vaeChunk = v;
            return this;
        }

        public Builder randomFlip(boolean v) {
            randomFlip = v;
            return this;
        }

        public Builder prefetch(boolean v) {
            prefetch = v;
            return this;
        }

        public Builder microBatchThreads(int v) {
            microBatchThreads = v;
            return this;
        }

        public Builder latentCacheClips(int v) {
            latentCacheClips = v;
            return this;
        }

        public TrainingConfig build() {
            return new TrainingConfig(
                    baseModel,
                    motionModule,
                    freshMotion,
                    motionNorm,
                    loraRank,
                    outDir,
                    resume,
                    steps,
                    batchSize,
                    gradientAccumulation,
                    frames,
                    stride,
                    size,
                    learningRate,
                    beta1,
                    beta2,
                    weightDecay,
                    epsilon,
                    maxGradNorm,
                    captionDropout,
                    checkpointEvery,
                    validateEvery,
                    validationPrompts,
                    validationSteps,
                    validationGuidance,
                    seed,
                    vaeChunk,
                    randomFlip,
                    prefetch,
                    microBatchThreads,
                    latentCacheClips);
        }
    }
}
