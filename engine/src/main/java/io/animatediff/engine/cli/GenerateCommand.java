package io.animatediff.engine.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.OutputType;
import io.animatediff.engine.media.VideoReader;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.LoraSpec;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.AnimationResult;
import io.animatediff.engine.pipeline.AnimationWriter;
import io.animatediff.engine.pipeline.ContextWindows;
import io.animatediff.engine.pipeline.FreeInit;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.pipeline.VideoInput;
import io.animatediff.engine.schedulers.Scheduler;
import io.animatediff.engine.schedulers.SchedulerConfig;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code generate}: one animation, in-process, from model files on disk. */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description = "Generate an animation from a base model (diffusers folder or single-file checkpoint) "
                + "and a motion module (.ckpt, .safetensors or a diffusers MotionAdapter folder).")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR|FILE", description = "base model")
    Path model;

    @Option(names = "--motion-module", required = true, paramLabel = "DIR|FILE", description = "motion module")
    Path motionModule;

    @Option(
            names = "--lora",
            paramLabel = "FILE[:SCALE]",
            description = "LoRA to merge (repeatable), scale 1 by default")
    List<String> loras = new ArrayList<>();

    @Option(
            names = "--motion-lora",
            paramLabel = "FILE[:SCALE]",
            description = "MotionLoRA to merge (repeatable; official .ckpt or diffusers-converted"
                    + " .safetensors), scale 1 by default; the v3 domain adapter goes in --lora")
    List<String> motionLoras = new ArrayList<>();

    @Option(names = "--prompt", paramLabel = "TEXT", description = "what to animate")
    String prompt;

    @Option(
            names = "--prompt-map",
            paramLabel = "FRAME=TEXT",
            description = "prompt travel key frame (repeatable, frame 0 required); embeddings are"
                    + " interpolated between key frames")
    Map<Integer, String> promptMap = new LinkedHashMap<>();

    @Option(
            names = "--context-length",
            paramLabel = "N",
            description = "sliding context windows of N frames (off by default): any --frames with a"
                    + " motion module limited to N or more positions")
    Integer contextLength;

    @Option(names = "--context-overlap", defaultValue = "4", description = "frames shared by neighbouring windows")
    int contextOverlap;

    @Option(
            names = "--context-stride",
            defaultValue = "1",
            description = "dilation levels: 2 adds windows over every 2nd frame, 3 also every 4th")
    int contextStride;

    @Option(
            names = "--context-schedule",
            description = "uniform (default) | looped (windows wrap; the default with --closed-loop)")
    String contextSchedule;

    @Option(names = "--context-weighting", defaultValue = "pyramid", description = "pyramid | flat")
    String contextWeighting;

    @Option(names = "--closed-loop", description = "looped windows join the last frames to the first")
    boolean closedLoop;

    @Option(
            names = "--video",
            paramLabel = "GIF|MP4|DIR",
            description = "video-to-video input (its first --frames frames, at --width x --height)")
    Path video;

    @Option(
            names = "--strength",
            defaultValue = "0.8",
            description = "video-to-video noise strength in [0, 1]: 0 keeps the input, 1 replaces it")
    double strength;

    @Option(
            names = "--free-init-iterations",
            defaultValue = "0",
            description = "FreeInit passes (0 = off; diffusers' default when on: 3)")
    int freeInitIterations;

    @Option(names = "--free-init-method", defaultValue = "butterworth", description = "butterworth | gaussian | ideal")
    String freeInitMethod;

    @Option(names = "--free-init-order", defaultValue = "4", description = "Butterworth filter order")
    int freeInitOrder;

    @Option(names = "--free-init-spatial-stop-frequency", defaultValue = "0.25")
    double freeInitSpatial;

    @Option(names = "--free-init-temporal-stop-frequency", defaultValue = "0.25")
    double freeInitTemporal;

    @Option(names = "--free-init-fast-sampling", description = "coarse-to-fine: fewer steps in early passes")
    boolean freeInitFast;

    @Option(
            names = "--timestep-spacing",
            description = "leading | linspace | trailing (AnimateDiff-Lightning: --scheduler euler"
                    + " --timestep-spacing trailing --guidance 1)")
    String timestepSpacing;

    @Option(names = "--negative-prompt", paramLabel = "TEXT", defaultValue = "")
    String negativePrompt;

    @Option(names = "--frames", defaultValue = "16")
    int frames;

    @Option(names = "--width", defaultValue = "512")
    int width;

    @Option(names = "--height", defaultValue = "512")
    int height;

    @Option(names = "--steps", defaultValue = "25")
    int steps;

    @Option(names = "--guidance", defaultValue = "7.5")
    double guidance;

    @Option(names = "--seed", defaultValue = "42", description = "unsigned 64-bit seed")
    String seed;

    @Option(names = "--scheduler", defaultValue = "ddim", description = "ddim | euler | lcm")
    String scheduler;

    @Option(names = "--eta", defaultValue = "0")
    double eta;

    @Option(names = "--motion-norm", defaultValue = "official", description = "official (per frame) | diffusers")
    String motionNorm;

    @Option(names = "--motion-scale", defaultValue = "1.0")
    double motionScale;

    @Option(
            names = "--prompt-embeds",
            paramLabel = "FILE.safetensors",
            description = "tensors prompt_embeds and negative_prompt_embeds (1, S, C)")
    Path promptEmbeds;

    @Option(names = "--latents", paramLabel = "FILE.safetensors", description = "tensor latents (1, 4, F, H/8, W/8)")
    Path latents;

    @Option(names = "--output-type", defaultValue = "gif", description = "gif | mp4 | png | frames | latent")
    String outputType;

    @Option(names = "--fps", defaultValue = "8")
    double fps;

    @Option(names = "--decode-chunk", defaultValue = "1", description = "frames the VAE decodes at once")
    int decodeChunk;

    @Option(names = "--out", required = true, paramLabel = "PATH")
    Path out;

    /** Every option that does not need the model, on a builder. */
    private AnimationParams.Builder options() {
        AnimationParams.Builder b = AnimationParams.builder()
                .prompt(prompt)
                .negativePrompt(negativePrompt)
                .frames(frames)
                .size(width, height)
                .steps(steps)
                .guidanceScale(guidance)
                .scheduler(scheduler)
                .eta(eta)
                .motionScale(motionScale)
                .decodeChunk(decodeChunk)
                .promptMap(promptMap)
                .timestepSpacing(timestepSpacing)
                .video(null, strength);
        if (contextLength != null) {
            String schedule = contextSchedule != null ? contextSchedule : closedLoop ? "looped" : "uniform";
            b.context(new ContextWindows(
                    contextLength,
                    contextOverlap,
                    contextStride,
                    ContextWindows.Schedule.parse(schedule),
                    ContextWindows.Fuse.parse(contextWeighting),
                    closedLoop));
        } else if (closedLoop || contextSchedule != null) {
            throw new IllegalArgumentException(
                    "--closed-loop and --context-schedule need --context-length (the windows they shape)");
        }
        if (freeInitIterations > 0) {
            b.freeInit(new FreeInit(
                    freeInitIterations,
                    freeInitMethod,
                    freeInitOrder,
                    freeInitSpatial,
                    freeInitTemporal,
                    freeInitFast));
        }
        return b;
    }

    /** Refuses what is wrong regardless of the model, before spending seconds loading it. */
    private void checkBeforeLoading() {
        List<String> problems = options()
                .prompt(prompt == null && promptEmbeds != null ? "embeds" : prompt)
                .build()
                .problems(Integer.MAX_VALUE);
        try {
            Scheduler.create(scheduler, SchedulerConfig.animateDiffDefault(), eta);
        } catch (IllegalArgumentException e) {
            problems = new ArrayList<>(problems);
            problems.add("scheduler: " + e.getMessage());
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid generation parameters: " + String.join("; ", problems));
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        OutputType type = OutputType.parse(outputType);
        MotionModuleConfig.MotionNorm norm = MotionModuleConfig.MotionNorm.parse(motionNorm);
        List<LoraSpec> loraSpecs = new ArrayList<>();
        for (String l : loras) {
            loraSpecs.add(LoraSpec.parse(l));
        }
        for (String l : motionLoras) {
            loraSpecs.add(LoraSpec.parse(l));
        }
        long unsignedSeed = TorchRandom.parseSeed(seed);
        checkBeforeLoading();
        long t0 = System.nanoTime();
        try (AnimateDiffModel m = ModelLoader.load(model, motionModule, norm, loraSpecs);
                NDManager inputs = m.manager().newSubManager()) {
            spec.commandLine()
                    .getErr()
                    .printf("loaded %s in %.1f s%n", m.description(), (System.nanoTime() - t0) / 1e9);
            AnimationParams.Builder b = options().seed(unsignedSeed);
            if (video != null) {
                Frames input = VideoReader.read(video);
                b.video(VideoInput.tensor(input, frames, width, height, inputs), strength);
            }
            if (promptEmbeds != null) {
                try (TensorSource src = TensorSources.open(promptEmbeds)) {
                    NDArray pos = src.load("prompt_embeds", inputs);
                    NDArray neg =
                            src.contains("negative_prompt_embeds") ? src.load("negative_prompt_embeds", inputs) : null;
                    b.promptEmbeds(pos, neg);
                }
            }
            if (latents != null) {
                try (TensorSource src = TensorSources.open(latents)) {
                    b.latents(src.load("latents", inputs));
                }
            }
            AnimationParams params = b.build();
            long t1 = System.nanoTime();
            AnimationResult result = new AnimationPipeline(m)
                    .run(
                            params,
                            new StepListener() {
                                @Override
                                public void onStep(int step, int total) {
                                    spec.commandLine().getErr().printf("\rstep %d/%d", step, total);
                                    if (step == total) {
                                        spec.commandLine().getErr().println();
                                    }
                                }
                            },
                            type != OutputType.LATENT);
            result.warnings().forEach(w -> spec.commandLine().getErr().println("warning: " + w));
            List<Path> written = AnimationWriter.write(result, type, fps, out);
            spec.commandLine().getErr().printf("generated in %.1f s%n", (System.nanoTime() - t1) / 1e9);
            written.forEach(spec.commandLine().getOut()::println);
        }
        return 0;
    }
}
