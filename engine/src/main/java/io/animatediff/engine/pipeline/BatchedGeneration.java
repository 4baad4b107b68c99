package io.animatediff.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.schedulers.Scheduler;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * K compatible generations run as one batch: one UNet call per denoising step over the K jobs'
 * latents, each job with its own prompt, negative prompt, seed and guidance scale. Each job's
 * output equals the output of {@link AnimationPipeline#run} for it alone up to the last bits of
 * float32 batched matrix products (the tests state the tolerance measured). Ports diffusers'
 * AnimateDiffPipeline.__call__ with a list of prompts (its batch dimension), extended with one
 * seed and one guidance scale per batch row.
 *
 * <p>Compatible ({@link #problems}): same frames, width, height, steps, scheduler, eta, timestep
 * spacing, motion scale, and all with or all without classifier-free guidance; no job uses context
 * windows, prompt travel, FreeInit or a video input (those run alone). The model is the batch's
 * own, so "same models" is the caller's rule.
 *
 * <p>A job whose listener reports a cancel before a step leaves the batch at once (its rows are
 * dropped, its {@link Outcome} carries the {@link CancelledException}); the others go on.
 */
public final class BatchedGeneration {
    private final AnimateDiffModel model;
    private final AnimationPipeline pipeline;

    /** A job's end: its result, or the cancel that removed it from the batch. */
    public record Outcome(AnimationResult result, CancelledException cancelled) {
        public Outcome {
            if ((result == null) == (cancelled == null)) {
                throw new IllegalArgumentException("an outcome is a result or a cancel, not both or neither");
            }
        }
    }

    /** Told as soon as job {@code index} of the batch ended (cancelled mid-run, or decoded). */
    @FunctionalInterface
    public interface Sink {
        void done(int index, Outcome outcome);
    }

    public BatchedGeneration(AnimateDiffModel model) {
        this.model = Objects.requireNonNull(model, "model");
        this.pipeline = new AnimationPipeline(model);
    }

    /** The features of {@code p} the batch path does not run (empty: it may join a batch). */
    public static List<String> unsupported(AnimationParams p) {
        List<String> out = new ArrayList<>();
        if (p.context() != null) {
            out.add("context windows");
        }
        if (!p.promptMap().isEmpty()) {
            out.add("prompt travel (prompt_map)");
        }
        if (p.freeInit() != null) {
            out.add("FreeInit");
        }
        if (p.video() != null) {
            out.add("a video input");
        }
        return out;
    }

    /**
     * Why {@code other} cannot share a batch with {@code first} (empty: it can), each naming the
     * field and both values.
     */
    public static List<String> problems(AnimationParams first, AnimationParams other) {
        List<String> out = new ArrayList<>();
        for (String feature : unsupported(other)) {
            out.add(feature + " run alone");
        }
        differ(out, "num_frames", first.frames(), other.frames());
        differ(out, "width", first.width(), other.width());
        differ(out, "height", first.height(), other.height());
        differ(out, "num_inference_steps", first.steps(), other.steps());
        differ(out, "scheduler", first.scheduler(), other.scheduler());
        differ(out, "eta", first.eta(), other.eta());
        differ(out, "timestep_spacing", first.timestepSpacing(), other.timestepSpacing());
        differ(out, "motion_scale", first.motionScale(), other.motionScale());
        if (first.classifierFreeGuidance() != other.classifierFreeGuidance()) {
            out.add("guidance_scale " + other.guidanceScale() + " and " + first.guidanceScale()
                    + ": one is above 1 (classifier-free guidance) and the other not");
        }
        return out;
    }

    private static void differ(List<String> out, String field, Object a, Object b) {
        if (!Objects.equals(a, b)) {
            out.add(field + " " + b + " differs from " + a);
        }
    }

    /** Refuses a batch that is empty or not compatible, naming every job and problem. */
    public static void checkCompatible(List<AnimationParams> jobs) {
        if (jobs.isEmpty()) {
            throw new IllegalArgumentException("a batch needs at least one job");
        }
        List<String> problems = new ArrayList<>();
        AnimationParams first = jobs.get(0);
        for (String feature : unsupported(first)) {
            problems.add("job 0: " + feature + " run alone");
        }
        for (int k = 1; k < jobs.size(); k++) {
            for (String p : problems(first, jobs.get(k))) {
                problems.add("job " + k + ": " + p);
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("these jobs cannot run as one batch:\n  " + String.join("\n  ", problems)
                    + "\n  run incompatible jobs alone (AnimationPipeline.run) or in batches of compatible jobs");
        }
    }

    /** {@link #run(List, List, boolean, Sink)} without a sink: every outcome at the end. */
    public List<Outcome> run(List<AnimationParams> jobs, List<StepListener> listeners, boolean decode) {
        return run(jobs, listeners, decode, (i, o) -> {});
    }

    /**
     * Runs the batch; outcome {@code k} belongs to {@code jobs.get(k)} and is also given to {@code
     * sink} as soon as it is known. Throws {@link IllegalArgumentException} for incompatible or
     * invalid jobs before any work.
     */
    public List<Outcome> run(List<AnimationParams> jobs, List<StepListener> listeners, boolean decode, Sink sink) {
        if (listeners.size() != jobs.size()) {
            throw new IllegalArgumentException(
                    jobs.size() + " jobs but " + listeners.size() + " step listeners: give one listener per job");
        }
        checkCompatible(jobs);
        for (int k = 0; k < jobs.size(); k++) {
            try {
                pipeline.checkInputs(jobs.get(k));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("job " + k + " of the batch: " + e.getMessage(), e);
            }
        }
        int n = jobs.size();
        AnimationParams first = jobs.get(0);
        boolean cfg = first.classifierFreeGuidance();
        Outcome[] outcomes = new Outcome[n];
        try (NDManager run = model.manager().newSubManager()) {
            // 1. encode prompts, one job at a time: (2, S, C) = [negative, positive] with CFG, else (1, S, C)
            List<List<String>> warnings = new ArrayList<>();
            List<NDArray> texts = new ArrayList<>();
            for (AnimationParams p : jobs) {
                List<String> w = new ArrayList<>();
                texts.add(pipeline.encodePrompt(p, run, w));
                warnings.add(w);
            }
            for (int k = 1; k < n; k++) {
                if (!texts.get(k).getShape().equals(texts.get(0).getShape())) {
                    throw new IllegalArgumentException("job " + k + " of the batch: text embedding "
                            + texts.get(k).getShape() + " differs from job 0's "
                            + texts.get(0).getShape()
                            + " (prompt_embeds of another length): run it alone");
                }
            }
            // 2. timesteps: one schedule for all (same scheduler, steps and spacing)
            Scheduler scheduler = pipeline.prepareTimesteps(first, first.steps());
            // 3. latents, each job's own seeded noise: K x (1, 4, F, h, w)
            List<NDArray> latents = new ArrayList<>();
            for (AnimationParams p : jobs) {
                latents.add(pipeline.prepareLatents(p, scheduler, 0, run));
            }
            // 4. denoise together; cancelled jobs leave the batch between steps
            int[] active = denoise(jobs, listeners, scheduler, texts, latents, cfg, run, outcomes, sink);
            // 5. decode each remaining job alone, (1, 4, F, h, w) -> frames (F, 3, H, W)
            for (int k : active) {
                NDArray z = latents.get(k);
                float[] values = z.toFloatArray();
                long[] shape = z.getShape().getShape();
                Frames frames = decode ? pipeline.decode(z, jobs.get(k).decodeChunk()) : null;
                outcomes[k] = new Outcome(new AnimationResult(values, shape, frames, warnings.get(k)), null);
                sink.done(k, outcomes[k]);
            }
        }
        return Arrays.asList(outcomes);
    }

    /**
     * The denoising loop over the active jobs; {@code latents} is updated in place per job. Returns
     * the indices of the jobs that ran to the end.
     */
    private int[] denoise(
            List<AnimationParams> jobs,
            List<StepListener> listeners,
            Scheduler scheduler,
            List<NDArray> texts,
            List<NDArray> latents,
            boolean cfg,
            NDManager run,
            Outcome[] outcomes,
            Sink sink) {
        int[] timesteps = scheduler.timesteps();
        double[] modelTimesteps = scheduler.modelTimesteps();
        int total = timesteps.length;
        int[] active = range(jobs.size());
        NDArray[] batch = null; // {text (2K | K, S, C), guidance (K, 1, 1, 1, 1) or null} for the active jobs
        try {
            for (int i = 0; i < total; i++) {
                int[] still = dropCancelled(active, listeners, i, total, outcomes, sink);
                if (still.length == 0) {
                    return still;
                }
                if (batch == null || still.length != active.length) {
                    close(batch);
                    batch = batchInputs(jobs, texts, still, cfg, run);
                }
                active = still;
                step(jobs, scheduler, latents, active, batch, cfg, i, modelTimesteps[i], run);
                for (int job : active) {
                    listeners.get(job).onStep(i + 1, total);
                }
            }
            return active;
        } finally {
            close(batch);
        }
    }

    /** One denoising step of the active jobs; replaces their latents (1, 4, F, h, w) in {@code latents}. */
    private void step(
            List<AnimationParams> jobs,
            Scheduler scheduler,
            List<NDArray> latents,
            int[] active,
            NDArray[] batch,
            boolean cfg,
            int i,
            double modelTimestep,
            NDManager run) {
        AnimationParams first = jobs.get(0);
        int k = active.length;
        try (NDManager step = run.newSubManager()) {
            NDList rows = new NDList();
            for (int job : active) {
                latents.get(job).attach(step); // the previous latents die with this step
                rows.add(latents.get(job)); // (1, 4, F, h, w)
            }
            NDArray x = NDArrays.concat(rows, 0); // (K, 4, F, h, w)
            NDArray text = batch[0];
            text.tempAttach(step); // results derived from the text belong to the step
            NDArray input = scheduler.scaleModelInput(x, i);
            if (cfg) {
                input = NDArrays.concat(new NDList(input, input), 0); // (2K, 4, F, h, w)
            }
            float[] ts = new float[(int) input.getShape().get(0)];
            Arrays.fill(ts, (float) modelTimestep);
            NDArray t = step.create(ts, new Shape(ts.length)); // (2K | K)
            NDArray eps = model.unet().forward(input, t, text, first.motionScale()); // (2K | K, 4, F, h, w)
            if (cfg) {
                NDList parts = eps.split(2, 0); // uncond (K, 4, F, h, w), cond (K, 4, F, h, w)
                NDArray uncond = parts.get(0);
                eps = uncond.add(parts.get(1).sub(uncond).mul(batch[1]));
            }
            NDArray noise = null;
            if (first.eta() > 0 || scheduler.stochastic(i)) {
                NDList perJob = new NDList(); // each job's own seeded step noise, (1, 4, F, h, w)
                for (int job : active) {
                    perJob.add(AnimationPipeline.stepNoise(
                            step, latents.get(job).getShape(), jobs.get(job).seed(), i));
                }
                noise = NDArrays.concat(perJob, 0); // (K, 4, F, h, w)
            }
            NDArray next = scheduler.step(eps, i, x, noise); // (K, 4, F, h, w)
            NDList split = next.split(k, 0); // K x (1, 4, F, h, w)
            for (int j = 0; j < k; j++) {
                NDArray row = split.get(j).duplicate();
                row.attach(run);
                latents.set(active[j], row);
            }
        }
    }

    /**
     * The text (2K, S, C) = [negative_1..negative_K, positive_1..positive_K] with CFG, else (K, S, C),
     * and the guidance scales (K, 1, 1, 1, 1) (null without CFG) of the active jobs, in {@code run}.
     */
    private static NDArray[] batchInputs(
            List<AnimationParams> jobs, List<NDArray> texts, int[] active, boolean cfg, NDManager run) {
        try (NDManager scratch = run.newSubManager()) {
            NDList negatives = new NDList();
            NDList positives = new NDList();
            float[] scales = new float[active.length];
            for (int j = 0; j < active.length; j++) {
                NDArray text = texts.get(active[j]); // (2 | 1, S, C)
                text.tempAttach(scratch);
                if (cfg) {
                    negatives.add(text.get("0:1"));
                    positives.add(text.get("1:2"));
                } else {
                    positives.add(text);
                }
                scales[j] = (float) jobs.get(active[j]).guidanceScale();
            }
            NDArray text = cfg
                    ? NDArrays.concat(new NDList(NDArrays.concat(negatives, 0), NDArrays.concat(positives, 0)), 0)
                    : NDArrays.concat(positives, 0);
            text.attach(run);
            NDArray guidance = cfg ? run.create(scales, new Shape(active.length, 1, 1, 1, 1)) : null;
            return new NDArray[] {text, guidance};
        }
    }

    private static void close(NDArray[] arrays) {
        if (arrays != null) {
            for (NDArray a : arrays) {
                if (a != null) {
                    a.close();
                }
            }
        }
    }

    /** Asks every active job's listener; a cancelled job leaves the batch with its outcome. */
    private static int[] dropCancelled(
            int[] active, List<StepListener> listeners, int i, int total, Outcome[] outcomes, Sink sink) {
        int[] keep = new int[active.length];
        int n = 0;
        for (int job : active) {
            if (listeners.get(job).isCancelled()) {
                outcomes[job] = new Outcome(null, new CancelledException(i + 1, total));
                sink.done(job, outcomes[job]);
            } else {
                keep[n++] = job;
            }
        }
        return Arrays.copyOf(keep, n);
    }

    private static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }
}
