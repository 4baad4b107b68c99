package io.animatediff.engine.cli;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.training.DatasetSources;
import io.animatediff.engine.training.MotionTrainer;
import io.animatediff.engine.training.StepReport;
import io.animatediff.engine.training.TrainingConfig;
import io.animatediff.engine.training.TrainingListener;
import io.animatediff.engine.training.TrainingResult;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code train}: motion-module or MotionLoRA training, in-process, with checkpoints in {@code --out}. */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description = "Train a motion module (or a MotionLoRA) on a folder of clips with the base model frozen, "
                + "as the official train.py; checkpoints go to OUT/step-N/, --resume continues from the newest.")
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR|FILE", description = "base model (frozen)")
    Path model;

    @Option(
            names = "--dataset",
            required = true,
            paramLabel = "DIR|s3://BUCKET/PREFIX",
            description = "folder or S3 prefix (ANIMATEDIFF_S3_* settings) with clips.jsonl"
                    + " ({\"video\": relpath, \"caption\": ...} per line)")
    String dataset;

    @Option(
            names = "--motion-module",
            paramLabel = "DIR|FILE",
            description = "initial motion module (default: a fresh one of --motion-version)")
    Path motionModule;

    @Option(
            names = "--motion-lora",
            paramLabel = "RANK",
            defaultValue = "0",
            description = "train a MotionLoRA of this rank on --motion-module instead of the module itself")
    int motionLora;

    @Option(
            names = "--motion-version",
            defaultValue = "v1",
            description = "architecture of a fresh motion module: v1 (official training.yaml), v2, v3, tiny")
    String motionVersion;

    @Option(names = "--motion-norm", defaultValue = "official", description = "official (per frame) | diffusers")
    String motionNorm;

    @Option(
            names = "--attention-blocks",
            defaultValue = "Temporal_Self,Temporal_Self",
            split = ",",
            description = "the official attention_block_types of a fresh module: Temporal_Self (every released"
                    + " module, twice) or Temporal_Cross (the frames attend to the prompt), e.g."
                    + " Temporal_Self,Temporal_Cross")
    List<String> attentionBlocks;

    @Option(names = "--steps", required = true, description = "optimizer steps to reach")
    int steps;

    @Option(names = "--batch", defaultValue = "4", description = "clips per micro-batch")
    int batch;

    @Option(names = "--grad-accum", defaultValue = "1", description = "micro-batches per optimizer step")
    int gradAccum;

    @Option(names = "--frames", defaultValue = "16")
    int frames;

    @Option(names = "--stride", defaultValue = "4", description = "source frames between sampled frames")
    int stride;

    @Option(names = "--size", defaultValue = "256", description = "training resolution (square)")
    int size;

    @Option(names = "--lr", defaultValue = "1e-4")
    double lr;

    @Option(names = "--weight-decay", defaultValue = "1e-2")
    double weightDecay;

    @Option(names = "--max-grad-norm", defaultValue = "1.0")
    double maxGradNorm;

    @Option(names = "--caption-dropout", defaultValue = "0.1")
    double captionDropout;

    @Option(names = "--checkpoint-every", defaultValue = "100", paramLabel = "N")
    int checkpointEvery;

    @Option(
            names = "--validate-every",
            defaultValue = "0",
            paramLabel = "N",
            description = "write validation GIFs every N steps (0: never)")
    int validateEvery;

    @Option(
            names = "--validation-prompt",
            paramLabel = "TEXT",
            description = "validation prompt (repeatable; default: the official training.yaml prompts)")
    List<String> validationPrompts = new ArrayList<>();

    @Option(names = "--validation-steps", defaultValue = "25")
    int validationSteps;

    @Option(names = "--seed", defaultValue = "42", description = "unsigned 64-bit seed")
    String seed;

    @Option(names = "--vae-chunk", defaultValue = "16", description = "frames the VAE encodes at once")
    int vaeChunk;

    @Option(
            names = "--micro-batch-threads",
            defaultValue = "1",
            paramLabel = "N",
            description = "run a step's --grad-accum micro-batches on N threads (same weights bit for bit;"
                    + " pays for small models, with ANIMATEDIFF_THREADS=1)")
    int microBatchThreads;

    @Option(
            names = "--latent-cache",
            defaultValue = "0",
            paramLabel = "CLIPS",
            description = "keep the VAE's latent distribution of up to CLIPS clip samples in memory (0: encode"
                    + " every step); pays when a small dataset is seen for many epochs")
    int latentCache;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "checkpoints and samples")
    Path out;

    @Option(names = "--resume", description = "continue from the newest complete checkpoint in --out")
    boolean resume;

    @Override
    public Integer call() throws Exception {
        TrainingConfig.Builder b = TrainingConfig.builder()
                .baseModel(model)
                .motionModule(motionModule)
                .freshMotion(freshMotion(motionVersion).withAttentionBlockTypes(attentionBlocks))
                .motionNorm(MotionModuleConfig.MotionNorm.parse(motionNorm))
                .loraRank(motionLora)
                .outDir(out)
                .resume(resume)
                .steps(steps)
                .batchSize(batch)
                .gradientAccumulation(gradAccum)
                .frames(frames)
                .stride(stride)
                .size(size)
                .learningRate(lr)
                .weightDecay(weightDecay)
                .maxGradNorm(maxGradNorm)
                .captionDropout(captionDropout)
                .checkpointEvery(checkpointEvery)
                .validateEvery(validateEvery)
                .validationSteps(validationSteps)
                .seed(TorchRandom.parseSeed(seed))
                .vaeChunk(vaeChunk)
                .microBatchThreads(microBatchThreads)
                .latentCacheClips(latentCache);
        if (!validationPrompts.isEmpty()) {
            b.validationPrompts(validationPrompts);
        }
        TrainingConfig config = b.build();
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        TrainingListener listener = new TrainingListener() {
            @Override
            public void onStep(StepReport r) {
                stdout.printf(
                        Locale.ROOT,
                        "step %d/%d  loss %.5f  grad-norm %.4f  %.2f samples/s%n",
                        r.step(),
                        r.totalSteps(),
                        r.loss(),
                        r.gradNorm(),
                        r.samplesPerSecond());
                stdout.flush();
            }

            @Override
            public void onMessage(String message) {
                stderr.println(message);
                stderr.flush();
            }

            @Override
            public void onCheckpoint(long step, Path dir) {
                stdout.println("checkpoint " + dir);
                stdout.flush();
            }

            @Override
            public void onValidation(long step, List<Path> files) {
                files.forEach(f -> stdout.println("sample " + f));
                stdout.flush();
            }
        };
        long t0 = System.nanoTime();
        try (MotionTrainer trainer = MotionTrainer.open(config, DatasetSources.open(dataset), listener)) {
            TrainingResult result = trainer.train();
            stderr.printf(
                    Locale.ROOT,
                    "trained to step %d in %.1f s (%d clips); skipped clips: %s%n",
                    result.steps(),
                    (System.nanoTime() - t0) / 1e9,
                    trainer.clipsSeen(),
                    result.skipped().isEmpty() ? "none" : result.skipped());
            if (result.checkpoint() != null) {
                stdout.println("final " + result.checkpoint());
            }
        }
        return 0;
    }

    private static MotionModuleConfig freshMotion(String version) {
        return switch (version.toLowerCase(Locale.ROOT)) {
            case "v1" -> MotionModuleConfig.v1();
            case "v2" -> MotionModuleConfig.v2();
            case "v3" -> MotionModuleConfig.v3();
            case "tiny" -> MotionModuleConfig.tiny(false);
            default ->
                throw new IllegalArgumentException(
                        "--motion-version " + version + " is unknown: use v1, v2, v3 or tiny");
        };
    }
}
