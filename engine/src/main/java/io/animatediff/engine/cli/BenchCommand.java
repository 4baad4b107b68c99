package io.animatediff.engine.cli;

import io.animatediff.engine.bench.Bf16Benchmark;
import io.animatediff.engine.bench.EngineBenchmark;
import io.animatediff.engine.bench.MemoryPlanBenchmark;
import io.animatediff.engine.ops.AttentionBenchmark;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code animatediff bench}: runs {@link EngineBenchmark}, one line per measurement with PASS/MISS. */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = "Engine benchmark: UNet FLOP rate vs matmul, time outside the UNet, native memory,"
                + " safetensors load speed; ratios measured in one run. --attention: attention only.")
public final class BenchCommand implements Callable<Integer> {
    @Option(names = "--unet", defaultValue = "sd15", description = "sd15 (full widths, ~1.3 B params) or tiny")
    String unet;

    @Option(names = "--latent", defaultValue = "16", description = "latent side (image side / 8)")
    int latent;

    @Option(names = "--frames", defaultValue = "8", description = "frames per UNet call")
    int frames;

    @Option(names = "--reps", defaultValue = "2", description = "timed UNet forwards after warm-up and counting")
    int reps;

    @Option(names = "--matmul-size", defaultValue = "2048", description = "side of the square fp32 matmul")
    int matmulSize;

    @Option(names = "--pipeline-steps", defaultValue = "50", description = "denoising steps of the pipeline run")
    int pipelineSteps;

    @Option(names = "--safetensors-mb", defaultValue = "1024", description = "safetensors file size, 0 skips")
    long safetensorsMb;

    @Option(
            names = "--spec-check",
            defaultValue = "true",
            arity = "1",
            description = "true|false: count the 2D UNet at 64x64 against SPEC.md's 0.84 TFLOP per frame")
    boolean specCheck;

    @Option(
            names = "--attention",
            description = "run only the attention benchmark: fused vs unfused vs chunked at S = 1024 and 4096,"
                    + " against the same run's matmul rate")
    boolean attention;

    @Option(
            names = "--attention-batch",
            defaultValue = "8",
            description = "B*heads of the attention benchmark (8 at SD1.5 level 1, 16 with CFG)")
    int attentionBatch;

    @Option(names = "--attention-budget-mib", defaultValue = "64", description = "score budget of the chunked variant")
    long attentionBudgetMib;

    @Option(
            names = "--bf16",
            defaultValue = "true",
            arity = "1",
            description = "true|false: add the bfloat16 line (fused attention at S = 1024 and matmul vs fp32)")
    boolean bf16;

    @Option(
            names = "--memory-plan",
            description = "run only the memory plan check: predicted vs measured peak of SD1.5 UNet forwards at"
                    + " --latent and --frames (--reps forwards)")
    boolean memoryPlan;

    @Option(
            names = "--cfg",
            defaultValue = "false",
            arity = "1",
            description = "true|false: --memory-plan doubles the UNet batch as classifier-free guidance does")
    boolean cfg;

    @Option(
            names = "--bf16-ops",
            description = "run only the bfloat16 benchmark: SD1.5-width convs and linears fp32 vs bf16 (weight cast"
                    + " per call or held), then one --unet forward at --latent and --frames fp32 vs -Danimatediff.bf16")
    boolean bf16Ops;

    @Option(
            names = "--trim",
            defaultValue = "true",
            arity = "1",
            description = "true|false: --memory-plan gives malloc's freed blocks back (malloc_trim) after each"
                    + " forward and prints the resident set freed")
    boolean trim;

    @Option(
            names = "--width-divisor",
            defaultValue = "1",
            description = "--memory-plan divides SD1.5's channel widths by 1 (SD1.5) or 2")
    int widthDivisor;

    @Override
    public Integer call() throws Exception {
        if (bf16Ops) {
            if (!unet.equals("sd15") && !unet.equals("tiny")) {
                throw new IllegalArgumentException("--unet " + unet + " is not known: use sd15 or tiny");
            }
            new Bf16Benchmark(System.out, unet.equals("sd15"), latent, frames).run();
            return 0;
        }
        if (memoryPlan) {
            new MemoryPlanBenchmark(System.out, latent, frames, cfg, reps, trim, widthDivisor).run();
            return 0;
        }
        if (attention) {
            new AttentionBenchmark(System.out, attentionBatch, 40, attentionBudgetMib << 20, matmulSize)
                    .run(new int[] {1024, 4096}, bf16);
            return 0;
        }
        if (!unet.equals("sd15") && !unet.equals("tiny")) {
            throw new IllegalArgumentException("--unet " + unet + " is not known: use sd15 or tiny");
        }
        if (latent < 1 || frames < 1 || reps < 1 || matmulSize < 1 || pipelineSteps < 2) {
            throw new IllegalArgumentException(
                    "--latent, --frames, --reps, --matmul-size must be >= 1 and" + " --pipeline-steps >= 2");
        }
        EngineBenchmark.Options options = new EngineBenchmark.Options(
                unet.equals("sd15"), latent, frames, reps, matmulSize, pipelineSteps, safetensorsMb, specCheck);
        new EngineBenchmark(options, System.out).run();
        return 0;
    }

    /** The command on its own, for {@link EngineBenchmark#main}. */
    public static CommandLine commandLine() {
        return new CommandLine(new BenchCommand());
    }
}
