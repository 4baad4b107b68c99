package io.animatediff.engine.pipeline;

import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.ops.Ops;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Predicts the peak native memory a generation job adds on top of its loaded models, from its shape
 * alone, before it runs: float32 activations of the UNet forward (skip connections kept for the up
 * path plus the working set of the widest transformer block, with the score matrices composed
 * attention materialises), of the VAE decoding one frame chunk (or one tile), and of the decoded
 * video with the copies the pipeline makes of it. Weights are not included: the worker's model
 * cache accounts for them.
 *
 * <p>The coefficients (how many activation-sized tensors a block holds at once) are read off the
 * blocks' code and checked against the resident-set rise of real runs in {@code MemoryPlanTest}
 * (the prediction stays within a factor of {@value #STATED_FACTOR} of the measurement).
 */
public final class MemoryPlan {
    /** The factor within which the prediction matches a measured RSS rise (tested on two shapes). */
    public static final double STATED_FACTOR = 2.0;

    private static final long FLOAT = 4;
    private static final int TEXT_TOKENS = 77;

    /** Tensors of one activation's size a transformer block holds at once (GEGLU 8C, GELU 4C, ...). */
    static final int TRANSFORMER_TENSORS = 20;
    /** Tensors of one activation's size a resnet block holds at once (input, norms, silus, convs). */
    static final int RESNET_TENSORS = 8;
    /** Native copies of the decoded video in the pipeline (result, /2, +0.5, clip, transpose). */
    static final int VIDEO_COPIES = 5;
    /** Fixed per-job cost: libtorch scratch, thread-local buffers, text embeddings, latents. */
    public static final long FIXED_BYTES = 32L << 20;
    /**
     * glibc malloc serves blocks below its mmap threshold from arenas, and the threshold rises with
     * every freed mmapped block up to this size (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit): libtorch's
     * tensors below it are freed into arenas that stay resident, larger ones are unmapped on free.
     */
    static final long MALLOC_MMAP_MAX = 32L << 20;
    /**
     * Freed blocks malloc keeps resident during a UNet forward, per byte of the forward's working set
     * served from its arenas (tensors below {@link #MALLOC_MMAP_MAX}): measured with {@code bench
     * --memory-plan} as the first forward's peak rise minus the plan, over the plan's UNet bytes:
     * 2.75 (SD1.5, 256x256, 8 frames), 3.15 and 3.55 (SD1.5, 128x128, 16 frames, two runs), 3.6
     * (half widths, 128x128, 16 frames). It recurs on every forward after {@link NativeHeap#trim}, so it belongs to the peak.
     */
    static final double MALLOC_RETENTION = 3.0;

    /**
     * A job's shape. {@code framesPerCall} frames go through one UNet call (all frames, or the
     * context length), {@code guidance} doubles the UNet batch; {@code fusedAttention} false means
     * composed attention whose scores are capped by {@code attentionBudget} bytes; the VAE decodes
     * {@code vaeFramesPerChunk} frames at once, in tiles of {@code vaeTileLatent} latent pixels when
     * the latents are larger (0: never tiles).
     */
    public record Job(
            int width,
            int height,
            int frames,
            int framesPerCall,
            boolean guidance,
            boolean guidanceSplit,
            UNet2DConditionConfig unet,
            MotionModuleConfig motion,
            AutoencoderKLConfig vae,
            boolean fusedAttention,
            long attentionBudget,
            int vaeFramesPerChunk,
            int vaeTileLatent,
            int elementBytes) {
        public Job {
            if (width < 1 || height < 1 || frames < 1 || framesPerCall < 1 || vaeFramesPerChunk < 1) {
                throw new IllegalArgumentException("memory plan: width " + width + ", height " + height + ", frames "
                        + frames + ", frames per UNet call " + framesPerCall + ", VAE chunk " + vaeFramesPerChunk
                        + " must all be >= 1");
            }
            if (attentionBudget < 1 || vaeTileLatent < 0) {
                throw new IllegalArgumentException("memory plan: attention budget " + attentionBudget
                        + " must be >= 1 byte and VAE tile " + vaeTileLatent + " >= 0");
            }
            if (elementBytes != 2 && elementBytes != 4) {
                throw new IllegalArgumentException("memory plan: element size " + elementBytes
                        + " bytes is not supported: use 4 (float32) or 2 (float16, bfloat16)");
            }
        }

        /** This job with the VAE decoding {@code chunk} frames per call. */
        public Job withVaeFramesPerChunk(int chunk) {
            return new Job(
                    width,
                    height,
                    frames,
                    framesPerCall,
                    guidance,
                    guidanceSplit,
                    unet,
                    motion,
                    vae,
                    fusedAttention,
                    attentionBudget,
                    chunk,
                    vaeTileLatent,
                    elementBytes);
        }

        /** This job with the two guidance halves run as separate UNet calls (or as one). */
        public Job withGuidanceSplit(boolean split) {
            return new Job(
                    width,
                    height,
                    frames,
                    framesPerCall,
                    guidance,
                    split,
                    unet,
                    motion,
                    vae,
                    fusedAttention,
                    attentionBudget,
                    vaeFramesPerChunk,
                    vaeTileLatent,
                    elementBytes);
        }

        /** This job with activations of {@code bytes} per element (4 float32, 2 float16 or bfloat16). */
        public Job withElementBytes(int bytes) {
            return new Job(
                    width,
                    height,
                    frames,
                    framesPerCall,
                    guidance,
                    guidanceSplit,
                    unet,
                    motion,
                    vae,
                    fusedAttention,
                    attentionBudget,
                    vaeFramesPerChunk,
                    vaeTileLatent,
                    bytes);
        }

        /** Sequences in one UNet call: frames per call, doubled by guidance unless it is split. */
        long unetBatch() {
            return (guidance && !guidanceSplit ? 2L : 1L) * framesPerCall;
        }

        /**
         * The job {@code model} would run for a request of this shape, with the process's attention
         * mode and budget and the VAE's tile size; {@code contextLength} 0 means one UNet call over
         * all frames.
         */
        public static Job of(
                AnimateDiffModel model,
                int width,
                int height,
                int frames,
                int contextLength,
                boolean guidance,
                int vaeFramesPerChunk) {
            return new Job(
                    width,
                    height,
                    frames,
                    contextLength > 0 ? Math.min(frames, contextLength) : frames,
                    guidance,
                    false,
                    model.unet().config(),
                    model.unet().motion(),
                    model.vae().config(),
                    Ops.fusedAvailable(),
                    Ops.attentionBudget(),
                    vaeFramesPerChunk,
                    model.vae().tileLatent(),
                    4);
        }
    }

    /**
     * The prediction, by phase; {@code retainedBytes} what the freed blocks malloc keeps resident
     * during the UNet forward add to its peak: the UNet phase is the larger of its working set and
     * (1 + {@link #MALLOC_RETENTION}) times the working set's arena-served part (equal at SD1.5 widths
     * with fused attention; composed attention's mmapped scores can be the larger one); {@code
     * peakBytes} the largest phase plus the fixed cost.
     */
    public record Estimate(long unetBytes, long retainedBytes, long vaeBytes, long videoBytes, long peakBytes) {
        /** One line: the peak and its phases in MiB. */
        public String describe() {
            return String.format(
                    Locale.ROOT,
                    "%d MiB (UNet forward %d MiB + %d MiB malloc keeps, VAE decode %d MiB, decoded video %d MiB)",
                    peakBytes >> 20,
                    unetBytes >> 20,
                    retainedBytes >> 20,
                    vaeBytes >> 20,
                    videoBytes >> 20);
        }
    }

    /**
     * A plan that fits a budget, or the cheapest one found: the job as it will run (its settings
     * changed from the request's only where the output stays the same), its prediction, whether it
     * fits, and what was changed, in words.
     */
    public record Fit(Job job, Estimate estimate, boolean fits, List<String> changes) {
        public Fit {
            changes = List.copyOf(changes);
        }

        /** Applies the plan's settings (VAE frames per call, guidance split) to a pipeline run's parameters. */
        public AnimationParams.Builder apply(AnimationParams.Builder params) {
            return params.decodeChunk(job.vaeFramesPerChunk()).guidanceSplit(job.guidanceSplit());
        }
    }

    /**
     * The plan for {@code job} under {@code budgetBytes} of native memory: the job as given if it
     * fits, else the first of these that does, each added to the previous ones: the VAE decodes one
     * frame per call; the two classifier-free-guidance halves run as two UNet calls of batch 1
     * (halves the UNet's activations). Both keep the output: decoding is per frame and every UNet op
     * treats batch rows independently. Plans that change the output (context windows, smaller VAE
     * tiles, fewer frames) are never chosen here: a job that still does not fit gets {@code fits}
     * false with the cheapest plan's prediction, for the caller to refuse.
     */
    public static Fit fit(Job job, long budgetBytes) {
        if (budgetBytes <= 0) {
            throw new IllegalArgumentException("memory plan: budget " + budgetBytes + " bytes must be > 0");
        }
        List<String> changes = new ArrayList<>();
        Estimate e = predict(job);
        if (e.peakBytes() > budgetBytes && job.vaeFramesPerChunk() > 1) {
            job = job.withVaeFramesPerChunk(1);
            e = predict(job);
            changes.add("VAE decodes one frame per call");
        }
        if (e.peakBytes() > budgetBytes && job.guidance() && !job.guidanceSplit()) {
            job = job.withGuidanceSplit(true);
            e = predict(job);
            changes.add("the two guidance halves run as two UNet calls");
        }
        return new Fit(job, e, e.peakBytes() <= budgetBytes, changes);
    }

    private MemoryPlan() {}

    /** The job's predicted peak native memory above its loaded models. */
    public static Estimate predict(Job job) {
        int down = job.vae().downscale();
        long h = ceilDiv(job.height(), down); // latent side
        long w = ceilDiv(job.width(), down);
        long unet = unet(job, h, w, false);
        // freed arena blocks accumulate over the forward; a peak of mmapped score matrices (composed
        // attention) is not raised by them, so the UNet phase is the larger of the two
        long arena = unet(job, h, w, true);
        long retained = Math.max(0, Math.round((1 + MALLOC_RETENTION) * arena) - unet);
        long video = 3L * job.frames() * job.height() * job.width() * FLOAT; // (1, 3, F, H, W)
        long vae = vae(job, h, w);
        long decodePhase = Math.max(video + vae, VIDEO_COPIES * video);
        return new Estimate(unet, retained, vae, video, Math.max(unet + retained, decodePhase) + FIXED_BYTES);
    }

    /**
     * Skip connections of the down path plus the largest block working set, at batch (2) F; with
     * {@code arenaOnly} only what malloc serves from its arenas: activation-sized tensors below
     * {@link #MALLOC_MMAP_MAX} (score matrices and larger activations are mmapped and unmapped on free).
     */
    private static long unet(Job job, long h, long w, boolean arenaOnly) {
        UNet2DConditionConfig u = job.unet();
        long n = job.unetBatch(); // UNet batch
        int levels = u.numBlocks();
        long skips = arena(act(job, n, u.channels(0), h * w), arenaOnly); // conv_in
        long working = 0;
        for (int l = 0; l < levels; l++) {
            long side = 1L << l;
            long s = ceilDiv(h, side) * ceilDiv(w, side); // tokens at this level
            long c = u.channels(l);
            long a = act(job, n, c, s);
            boolean mapped = arenaOnly && a >= MALLOC_MMAP_MAX;
            skips += u.layersPerBlock() * arena(a, arenaOnly);
            if (l < levels - 1) {
                skips += arena(act(job, n, c, ceilDiv(h, side * 2) * ceilDiv(w, side * 2)), arenaOnly); // downsampler
            }
            // up blocks concatenate the skip: resnets see up to 2C channels
            long block = RESNET_TENSORS * arena(act(job, n, 2 * c, s), arenaOnly);
            if (u.downHasAttention(l) || u.upHasAttention(levels - 1 - l)) {
                long heads = u.heads(l);
                long scores =
                        arenaOnly ? 0 : Math.max(scores(job, n * heads, s, s), scores(job, n * heads, s, TEXT_TOKENS));
                block = Math.max(block, TRANSFORMER_TENSORS * (mapped ? 0 : a) + scores);
            }
            if (job.motion().atLevel(l)) {
                long f = job.framesPerCall();
                long temporal =
                        arenaOnly ? 0 : scores(job, n / f * s * job.motion().heads(), f, f);
                block = Math.max(block, TRANSFORMER_TENSORS * (mapped ? 0 : a) + temporal);
            }
            working = Math.max(working, block);
        }
        return skips + working;
    }

    /** {@code bytes} of one tensor, or 0 when only arena-served tensors count and malloc mmaps it. */
    private static long arena(long bytes, boolean arenaOnly) {
        return arenaOnly && bytes >= MALLOC_MMAP_MAX ? 0 : bytes;
    }

    /** One frame chunk (or tile) through the decoder's last two levels, plus the mid-block attention. */
    private static long vae(Job job, long h, long w) {
        AutoencoderKLConfig v = job.vae();
        int tile = job.vaeTileLatent();
        boolean tiled = tile > 0 && (h > tile || w > tile);
        long th = tiled ? Math.min(h, tile) : h;
        long tw = tiled ? Math.min(w, tile) : w;
        long n = Math.min(job.frames(), job.vaeFramesPerChunk());
        long pixels = th * tw * (long) v.downscale() * v.downscale();
        long c0 = v.channels(0);
        long c1 = v.numBlocks() > 1 ? v.channels(1) : c0;
        // the last level's first resnet at full resolution holds its C1 input, norm (with the copy
        // group_norm makes) and silu, and of C0 the conv, norm, silu, conv, shortcut and sum, plus
        // two for the allocator's slack: 4 C1 + 8 C0 per pixel
        long work = n * pixels * job.elementBytes() * (4 * c1 + 8 * c0);
        long attention = scores(job, n, th * tw, th * tw);
        long tiles =
                tiled ? 2L * n * 3 * ceilDiv(w, tile * 3 / 4) * pixels * job.elementBytes() : 0; // two rows of tiles
        return Math.max(work, attention + act(job, n, v.channels(v.numBlocks() - 1), th * tw) * 4) + tiles;
    }

    /** Bytes of scores and probabilities for (batch, sq, sk) attention: 0 fused, capped by the budget composed. */
    private static long scores(Job job, long batch, long sq, long sk) {
        if (job.fusedAttention()) {
            return 0;
        }
        long full = 2 * batch * sq * sk * job.elementBytes();
        long row = 2 * batch * sk * job.elementBytes(); // one query row: the smallest chunk
        return Math.min(full, Math.max(row, job.attentionBudget()));
    }

    private static long act(Job job, long n, long c, long tokens) {
        return n * c * tokens * job.elementBytes();
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
