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
import io.animatediff.engine.text.TokenizedPrompt;
import java.util.ArrayList;
import java.util.List;

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
            // 2. encode prompt: (2, S, C) with CFG (negative first), else (1, S, C)
            NDArray text = encodePrompt(p, run, warnings);
            // 3. prepare timesteps
            Scheduler scheduler = prepareTimesteps(p);
            // 4. prepare latents (1, 4, F, H/8, W/8)
            NDArray latents = prepareLatents(p, scheduler, run);
            // 5. denoise
            latents = denoise(p, scheduler, text, latents, run, listener);
            float[] values = latents.toFloatArray();
            long[] shape = latents.getShape().getShape();
            // 6. decode
            Frames frames = decode ? decode(latents, p.decodeChunk()) : null;
            return new AnimationResult(values, shape, frames, warnings);
        }
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
            Scheduler.create(p.scheduler(), model.schedulerConfig(), p.eta());
        } catch (IllegalArgumentException e) {
            problems.add("scheduler: " + e.getMessage());
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid generation parameters:\n  " + String.join("\n  ", problems));
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

    /** (1, S, C) per prompt; (2, S, C) = [negative, positive] when guidance is on. */
    NDArray encodePrompt(AnimationParams p, NDManager run, List<String> warnings) {
        NDArray positive =
                p.promptEmbeds() != null ? copyTo(p.promptEmbeds(), run) : embed(p.prompt(), run, warnings, "prompt");
        if (!p.classifierFreeGuidance()) {
            return positive;
        }
        NDArray negative = p.negativePromptEmbeds() != null
                ? copyTo(p.negativePromptEmbeds(), run)
                : embed(p.negativePrompt(), run, warnings, "negative_prompt");
        return NDArrays.concat(new NDList(negative, positive), 0);
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

    Scheduler prepareTimesteps(AnimationParams p) {
        Scheduler scheduler = Scheduler.create(p.scheduler(), model.schedulerConfig(), p.eta());
        scheduler.setTimesteps(p.steps());
        return scheduler;
    }

    static Shape latentShape(AnimationParams p) {
        return new Shape(1, 4, p.frames(), p.height() / 8, p.width() / 8);
    }

    NDArray prepareLatents(AnimationParams p, Scheduler scheduler, NDManager run) {
        NDArray noise =
                p.latents() != null ? copyTo(p.latents(), run) : TorchRandom.randn(run, latentShape(p), p.seed());
        double sigma = scheduler.initNoiseSigma();
        return sigma == 1.0 ? noise : noise.mul(sigma);
    }

    NDArray denoise(
            AnimationParams p,
            Scheduler scheduler,
            NDArray text,
            NDArray latents,
            NDManager run,
            StepListener listener) {
        int[] timesteps = scheduler.timesteps();
        double[] modelTimesteps = scheduler.modelTimesteps(); // fractional for Euler linspace/Karras
        boolean cfg = p.classifierFreeGuidance();
        for (int i = 0; i < timesteps.length; i++) {
            if (listener.isCancelled()) {
                throw new CancelledException(i + 1, timesteps.length);
            }
            try (NDManager step = run.newSubManager()) {
                latents.attach(step); // the previous latents die with this step
                text.tempAttach(step); // results derived from the text belong to the step too
                NDArray input = scheduler.scaleModelInput(latents, i);
                if (cfg) {
                    input = NDArrays.concat(new NDList(input, input), 0); // (2, 4, F, h, w)
                }
                NDArray t = step.create((float) modelTimesteps[i])
                        .reshape(1)
                        .repeat(0, input.getShape().get(0));
                NDArray eps = model.unet().forward(input, t, text, p.motionScale()); // (B, 4, F, h, w)
                if (cfg) {
                    NDList parts = eps.split(2, 0);
                    NDArray uncond = parts.get(0);
                    eps = uncond.add(parts.get(1).sub(uncond).mul(p.guidanceScale()));
                }
                NDArray noise = p.eta() > 0 ? stepNoise(step, latents.getShape(), p.seed(), i) : null;
                NDArray next = scheduler.step(eps, i, latents, noise);
                next.attach(run);
                latents = next;
            }
            listener.onStep(i + 1, timesteps.length);
        }
        return latents;
    }

    /** Variance noise for eta > 0: seeded per step from the run's seed, reproducible. */
    private static NDArray stepNoise(NDManager m, Shape shape, long seed, int stepIndex) {
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
