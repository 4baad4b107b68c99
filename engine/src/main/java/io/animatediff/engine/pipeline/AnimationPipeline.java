package io.animatediff.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.schedulers.Scheduler;
import io.animatediff.engine.schedulers.SchedulerConfig;
import io.animatediff.engine.text.TokenizedPrompt;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Ports animatediff.pipelines.pipeline_animation.AnimationPipeline (and diffusers'
 * AnimateDiffPipeline.__call__) as small named steps: checkInputs, encodePrompt, prepareTimesteps,
 * prepareLatents, denoise, decode. Native memory is scoped: each denoising step runs in a child
 * manager closed at the end of the step, so a long run does not grow.
 */
public final class AnimationPipeline {
    /** Frames per second written into outputs unless the caller says otherwise (official GIFs: 8). */
    public static final double DEFAULT_FPS = 8.0;

    private final AnimateDiffModel model;

    public AnimationPipeline(AnimateDiffModel model) {
        this.model = model;
    }

    /** Runs one generation; {@code decode} false returns latents only. */
    public AnimationResult run(AnimationParams p, StepListener listener, boolean decode) {
        List<String> warnings = new ArrayList<>();
        try (NDManager run = model.manager().newSubManager()) {
            // 1. check inputs
            checkInputs(p);
            // 2. encode prompt: (2, S, C) with CFG (negative first), else (1, S, C); prompt travel
            //    gives one embedding per frame: (2 | 1, F, S, C)
            NDArray text = encodePrompt(p, run, warnings);
            // 3. prepare timesteps
            FreeInit freeInit = p.freeInit();
            int passes = freeInit == null ? 1 : freeInit.iterations();
            Scheduler scheduler = prepareTimesteps(p, freeInit == null ? p.steps() : freeInit.stepsFor(0, p.steps()));
            // 4. prepare latents (1, 4, F, H/8, W/8): seeded noise, or the noised input video
            int first = firstStep(p, scheduler.numSteps());
            NDArray latents = prepareLatents(p, scheduler, first, run);
            // 5. denoise; FreeInit repeats it from re-initialised noise
            NDArray initialNoise = passes > 1 ? latents.duplicate() : null;
            for (int pass = 0; pass < passes; pass++) {
                if (pass > 0) {
                    scheduler = prepareTimesteps(p, freeInit.stepsFor(pass, p.steps()));
                    first = firstStep(p, scheduler.numSteps());
                    latents = reinitialise(p, scheduler, latents, initialNoise, pass, run);
                }
                latents = denoise(p, scheduler, first, text, latents, run, listener);
            }
            float[] values = latents.toFloatArray();
            long[] shape = latents.getShape().getShape();
            // 6. decode
            Frames frames = decode ? decode(latents, p.decodeChunk()) : null;
            return new AnimationResult(values, shape, frames, warnings);
        }
    }

    /**
     * The first schedule step run: 0 for text-to-video; for video-to-video n - min(floor(n strength),
     * n), as diffusers' get_timesteps (strength 0 runs no step, strength 1 all of them).
     */
    static int firstStep(AnimationParams p, int n) {
        if (p.video() == null) {
            return 0;
        }
        int init = Math.min((int) (n * p.strength()), n);
        return Math.max(n - init, 0);
    }

    /** Refuses bad parameters early, naming every problem at once. */
    public void checkInputs(AnimationParams p) {
        List<String> problems = new ArrayList<>(p.problems(model.unet().maxFrames()));
        long hidden = model.textEncoder().config().hiddenSize();
        checkEmbeds("prompt_embeds", p.promptEmbeds(), hidden, problems);
        checkEmbeds("negative_prompt_embeds", p.negativePromptEmbeds(), hidden, problems);
        if (p.promptEmbeds() != null
                && p.negativePromptEmbeds() != null
                && !p.promptEmbeds().getShape().equals(p.negativePromptEmbeds().getShape())) {
            problems.add("prompt_embeds " + p.promptEmbeds().getShape() + " and negative_prompt_embeds "
                    + p.negativePromptEmbeds().getShape() + " must have the same shape");
        }
        if (p.latents() != null) {
            Shape want = latentShape(p);
            if (!p.latents().getShape().equals(want)) {
                problems.add("latents: shape " + p.latents().getShape() + " does not match " + want
                        + " (1, 4, num_frames, height/8, width/8)");
            }
        }
        try {
            Scheduler scheduler = Scheduler.create(p.scheduler(), schedulerConfig(p), p.eta());
            if (p.freeInit() != null && p.freeInit().iterations() > 1) {
                checkFreeInitDiffusion(scheduler, p, problems);
            }
        } catch (IllegalArgumentException e) {
            problems.add("scheduler: " + e.getMessage());
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid generation parameters:\n  " + String.join("\n  ", problems));
        }
    }

    /** FreeInit diffuses to t = T - 1 with the scheduler's add_noise, which Euler allows only on its schedule. */
    private void checkFreeInitDiffusion(Scheduler scheduler, AnimationParams p, List<String> problems) {
        int last = scheduler.config().numTrainTimesteps() - 1;
        try (NDManager scratch = model.manager().newSubManager()) {
            scheduler.setTimesteps(p.freeInit().stepsFor(1, p.steps()));
            NDArray zero = scratch.zeros(new Shape(1));
            scheduler.addNoise(zero, zero, last);
        } catch (IllegalArgumentException e) {
            problems.add("free_init: the " + p.scheduler() + " schedule cannot diffuse to t = " + last + " ("
                    + e.getMessage() + "): use timestep_spacing linspace or trailing, or the ddim scheduler");
        }
    }

    private static void checkEmbeds(String name, NDArray e, long hidden, List<String> problems) {
        if (e != null
                && (e.getShape().dimension() != 3
                        || e.getShape().get(0) != 1
                        || e.getShape().get(2) != hidden)) {
            problems.add(name + ": shape " + e.getShape() + " must be (1, S, " + hidden + ")");
        }
    }

    /**
     * (1, S, C) per prompt; (2, S, C) = [negative, positive] when guidance is on. With a prompt map,
     * (1 | 2, F, S, C): one positive embedding per frame (interpolated between key frames), the
     * negative repeated.
     */
    NDArray encodePrompt(AnimationParams p, NDManager run, List<String> warnings) {
        if (!p.promptMap().isEmpty() && p.prompt() != null && !p.prompt().isBlank()) {
            warnings.add("prompt is ignored: prompt_map gives every frame its prompt");
        }
        NDArray positive = !p.promptMap().isEmpty()
                ? travel(p, run, warnings)
                : p.promptEmbeds() != null ? copyTo(p.promptEmbeds(), run) : embed(p.prompt(), run, warnings, "prompt");
        if (!p.classifierFreeGuidance()) {
            return positive;
        }
        NDArray negative = p.negativePromptEmbeds() != null
                ? copyTo(p.negativePromptEmbeds(), run)
                : embed(p.negativePrompt(), run, warnings, "negative_prompt");
        if (positive.getShape().dimension() == 4) {
            negative = negative.expandDims(1).repeat(1, p.frames()); // (1, F, S, C)
        }
        return NDArrays.concat(new NDList(negative, positive), 0);
    }

    /** Prompt travel: (1, F, S, C), each key frame's embedding, linear in between (diffusers FreeNoise _lerp). */
    private NDArray travel(AnimationParams p, NDManager run, List<String> warnings) {
        SortedMap<Integer, NDArray> keys = new TreeMap<>();
        for (Map.Entry<Integer, String> e : p.promptMap().entrySet()) {
            keys.put(e.getKey(), embed(e.getValue(), run, warnings, "prompt_map[" + e.getKey() + "]"));
        }
        NDList perFrame = new NDList();
        for (int f = 0; f < p.frames(); f++) {
            Integer a = keys.headMap(f + 1).isEmpty()
                    ? keys.firstKey()
                    : keys.headMap(f + 1).lastKey();
            Integer b =
                    keys.tailMap(f).isEmpty() ? keys.lastKey() : keys.tailMap(f).firstKey();
            NDArray ea = keys.get(a);
            if (a.equals(b) || f <= a) {
                perFrame.add(ea);
            } else if (f >= b) {
                perFrame.add(keys.get(b));
            } else {
                double alpha = (double) (f - a) / (b - a);
                perFrame.add(ea.mul(1 - alpha).add(keys.get(b).mul(alpha)));
            }
        }
        return NDArrays.stack(perFrame, 1); // (1, F, S, C)
    }

    private NDArray embed(String text, NDManager run, List<String> warnings, String field) {
        TokenizedPrompt tokens = model.tokenizer().encode(text == null ? "" : text);
        if (tokens.truncated()) {
            warnings.add(
                    field + " is longer than " + model.tokenizer().maxLength() + " tokens: " + tokens.droppedTokens()
                            + " tokens were dropped; the model sees only \"" + tokens.keptText() + "\"");
        }
        long[] ids = new long[tokens.ids().length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = tokens.ids()[i];
        }
        try (NDManager scratch = run.newSubManager()) {
            NDArray out = model.textEncoder().forward(scratch.create(ids, new Shape(1, ids.length)));
            out.attach(run);
            return out;
        }
    }

    Scheduler prepareTimesteps(AnimationParams p, int steps) {
        Scheduler scheduler = Scheduler.create(p.scheduler(), schedulerConfig(p), p.eta());
        scheduler.setTimesteps(steps);
        return scheduler;
    }

    /** The model's scheduler config with the request's timestep_spacing, if any. */
    private SchedulerConfig schedulerConfig(AnimationParams p) {
        SchedulerConfig cfg = model.schedulerConfig();
        return p.timestepSpacing() == null ? cfg : cfg.with(Map.of("timestep_spacing", p.timestepSpacing()));
    }

    static Shape latentShape(AnimationParams p) {
        return new Shape(1, 4, p.frames(), p.height() / 8, p.width() / 8);
    }

    NDArray prepareLatents(AnimationParams p, Scheduler scheduler, int first, NDManager run) {
        if (p.video() != null) {
            // video-to-video: the input's latent means (diffusers samples the latent distribution),
            // noised to the first step's level
            NDArray x0 = model.vae().scale(model.vae().encodeVideo(copyTo(p.video(), run), p.decodeChunk()));
            if (first >= scheduler.numSteps()) {
                return x0;
            }
            NDArray noise = TorchRandom.randn(run, latentShape(p), p.seed());
            return scheduler.addNoiseForStep(x0, noise, first);
        }
        NDArray noise =
                p.latents() != null ? copyTo(p.latents(), run) : TorchRandom.randn(run, latentShape(p), p.seed());
        double sigma = scheduler.initNoiseSigma();
        return sigma == 1.0 ? noise : noise.mul(sigma);
    }

    /**
     * FreeInit pass {@code pass} > 0: diffuse the previous pass's result to t = T - 1 with the first
     * pass's noise, keep its low frequencies, take the high ones from fresh seeded noise.
     */
    NDArray reinitialise(
            AnimationParams p, Scheduler scheduler, NDArray latents, NDArray initialNoise, int pass, NDManager run) {
        try (NDManager scratch = run.newSubManager()) {
            int last = scheduler.config().numTrainTimesteps() - 1;
            NDArray zt = scheduler.addNoise(latents, initialNoise, last);
            zt.attach(scratch);
            NDArray zRand = TorchRandom.randn(scratch, latents.getShape(), p.seed() * 0xBF58476D1CE4E5B9L + pass);
            float[] mixed = p.freeInit()
                    .mix(
                            zt.toFloatArray(),
                            zRand.toFloatArray(),
                            latents.getShape().getShape());
            return run.create(mixed, latents.getShape());
        }
    }

    NDArray denoise(
            AnimationParams p,
            Scheduler scheduler,
            int first,
            NDArray text,
            NDArray latents,
            NDManager run,
            StepListener listener) {
        int[] timesteps = scheduler.timesteps();
        double[] modelTimesteps = scheduler.modelTimesteps(); // fractional for Euler linspace/Karras
        boolean cfg = p.classifierFreeGuidance();
        // the guidance scale as the 0-d float64 array NDArray.mul(Number) would create every step
        NDArray guidance = cfg ? run.create(p.guidanceScale()) : null;
        int total = timesteps.length - first;
        for (int i = first; i < timesteps.length; i++) {
            if (listener.isCancelled()) {
                throw new CancelledException(i - first + 1, total);
            }
            try (NDManager step = run.newSubManager()) {
                latents.attach(step); // the previous latents die with this step
                text.tempAttach(step); // results derived from the text belong to the step too
                NDArray input = scheduler.scaleModelInput(latents, i);
                NDArray eps;
                if (cfg && p.guidanceSplit()) {
                    // two batch-1 calls, negative then positive: the same rows as one batch-2 call
                    NDArray t = step.create(new float[] {(float) modelTimesteps[i]}, new Shape(1)); // (1)
                    NDList halves = text.split(2, 0); // 2 x (1, [F,] S, C)
                    NDArray uncond = predictNoise(p, input, t, halves.get(0), i, timesteps.length);
                    NDArray cond = predictNoise(p, input, t, halves.get(1), i, timesteps.length);
                    eps = NDArrays.concat(new NDList(uncond, cond), 0); // (2, 4, F, h, w)
                } else {
                    if (cfg) {
                        input = NDArrays.concat(new NDList(input, input), 0); // (2, 4, F, h, w)
                    }
                    float[] ts = new float[(int) input.getShape().get(0)];
                    Arrays.fill(ts, (float) modelTimesteps[i]);
                    NDArray t = step.create(ts, new Shape(ts.length)); // (B)
                    eps = predictNoise(p, input, t, text, i, timesteps.length); // (B, 4, F, h, w)
                }
                if (cfg) {
                    NDList parts = eps.split(2, 0);
                    NDArray uncond = parts.get(0);
                    eps = uncond.add(parts.get(1).sub(uncond).mul(guidance));
                }
                NDArray noise = p.eta() > 0 || scheduler.stochastic(i)
                        ? stepNoise(step, latents.getShape(), p.seed(), i)
                        : null;
                NDArray next = scheduler.step(eps, i, latents, noise);
                next.attach(run);
                latents = next;
            }
            listener.onStep(i - first + 1, total);
        }
        if (guidance != null) {
            guidance.close();
        }
        return latents;
    }

    /**
     * The UNet's noise prediction for input (B, 4, F, h, w): one call, or with context windows one
     * call per window of at most context_length frames, the overlapping predictions blended with
     * the windows' normalised fuse weights.
     */
    NDArray predictNoise(AnimationParams p, NDArray input, NDArray t, NDArray text, int stepIndex, int numSteps) {
        int f = (int) input.getShape().get(2);
        ContextWindows ctx = p.context();
        if (ctx == null || f <= ctx.length()) {
            return model.unet().forward(input, t, text, p.motionScale());
        }
        List<int[]> windows = ctx.windows(stepIndex, numSteps, f);
        double[][] share = ctx.normalizedWeights(windows, f);
        List<List<NDArray>> parts = new ArrayList<>();
        for (int i = 0; i < f; i++) {
            parts.add(new ArrayList<>());
        }
        for (int k = 0; k < windows.size(); k++) {
            int[] window = windows.get(k);
            NDArray x = framesOf(input, window, 2); // (B, 4, L, h, w)
            NDArray text1 = text.getShape().dimension() == 4 ? framesOf(text, window, 1) : text; // (B, L, S, C)
            NDArray eps = model.unet().forward(x, t, text1, p.motionScale());
            for (int j = 0; j < window.length; j++) {
                NDArray frame = eps.get(":, :, " + j + ":" + (j + 1));
                parts.get(window[j]).add(share[k][j] == 1.0 ? frame : frame.mul(share[k][j]));
            }
        }
        NDList frames = new NDList();
        for (List<NDArray> contributions : parts) {
            NDArray sum = contributions.get(0);
            for (int c = 1; c < contributions.size(); c++) {
                sum = sum.add(contributions.get(c));
            }
            frames.add(sum);
        }
        return NDArrays.concat(frames, 2);
    }

    /** The frames {@code idx} of x along {@code axis} (1 or 2), in that order. */
    private static NDArray framesOf(NDArray x, int[] idx, int axis) {
        String lead = axis == 1 ? ":, " : ":, :, ";
        boolean consecutive = true;
        for (int j = 1; j < idx.length; j++) {
            consecutive &= idx[j] == idx[j - 1] + 1;
        }
        if (consecutive) {
            return x.get(lead + idx[0] + ":" + (idx[idx.length - 1] + 1));
        }
        NDList slices = new NDList();
        for (int i : idx) {
            slices.add(x.get(lead + i + ":" + (i + 1)));
        }
        return NDArrays.concat(slices, axis);
    }

    /** Variance noise for eta > 0: seeded per step from the run's seed, reproducible. */
    static NDArray stepNoise(NDManager m, Shape shape, long seed, int stepIndex) {
        return TorchRandom.randn(m, shape, seed * 0x9E3779B97F4A7C15L + stepIndex + 1);
    }

    /** latents (1, 4, F, h, w) -> frames (F, 3, H, W) in [0, 1], decoded in chunks of frames. */
    Frames decode(NDArray latents, int chunk) {
        try (NDManager scratch = latents.getManager().newSubManager()) {
            NDArray scaled = model.vae().unscale(latents);
            scaled.attach(scratch);
            NDArray video = model.vae().decodeVideo(scaled, chunk); // (1, 3, F, H, W)
            NDArray images = video.div(2).add(0.5).clip(0, 1).get(0).transpose(1, 0, 2, 3); // (F, 3, H, W)
            Shape s = images.getShape();
            float[] data = images.toType(DataType.FLOAT32, false).toFloatArray();
            return Frames.fromFloatCHW(data, (int) s.get(0), (int) s.get(2), (int) s.get(3), DEFAULT_FPS);
        }
    }

    private static NDArray copyTo(NDArray a, NDManager m) {
        NDArray c = m.create(a.toFloatArray(), a.getShape());
        return c;
    }
}
