package io.animatediff.engine.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.media.OutputType;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.LoraSpec;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.AnimationResult;
import io.animatediff.engine.pipeline.AnimationWriter;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.schedulers.Scheduler;
import io.animatediff.engine.schedulers.SchedulerConfig;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

    @Option(names = "--prompt", paramLabel = "TEXT", description = "what to animate")
    String prompt;

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

    @Option(names = "--scheduler", defaultValue = "ddim", description = "ddim | euler")
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

    /** Refuses what is wrong regardless of the model, before spending seconds loading it. */
    private void checkBeforeLoading() {
        List<String> problems = AnimationParams.builder()
                .prompt(prompt == null && promptEmbeds != null ? "embeds" : prompt)
                .frames(frames)
                .size(width, height)
                .steps(steps)
                .guidanceScale(guidance)
                .eta(eta)
                .motionScale(motionScale)
                .decodeChunk(decodeChunk)
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
        long unsignedSeed = TorchRandom.parseSeed(seed);
        checkBeforeLoading();
        long t0 = System.nanoTime();
        try (AnimateDiffModel m = ModelLoader.load(model, motionModule, norm, loraSpecs);
                NDManager inputs = m.manager().newSubManager()) {
            spec.commandLine()
                    .getErr()
                    .printf("loaded %s in %.1f s%n", m.description(), (System.nanoTime() - t0) / 1e9);
            AnimationParams.Builder b = AnimationParams.builder()
                    .prompt(prompt)
                    .negativePrompt(negativePrompt)
                    .frames(frames)
                    .size(width, height)
                    .steps(steps)
                    .guidanceScale(guidance)
                    .seed(unsignedSeed)
                    .scheduler(scheduler)
                    .eta(eta)
                    .motionScale(motionScale)
                    .decodeChunk(decodeChunk);
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
