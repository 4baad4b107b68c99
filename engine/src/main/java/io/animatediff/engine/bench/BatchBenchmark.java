package io.animatediff.engine.bench;

import ai.djl.pytorch.jni.JniUtils;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.BatchedGeneration;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.world.MiniWorldSet;
import io.animatediff.engine.world.WorldModels;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Throughput of K compatible jobs run as one batch ({@link BatchedGeneration}) against the same K
 * jobs run one by one ({@link AnimationPipeline#run}), in one run, per torch thread count: the
 * figure behind the worker's {@code ANIMATEDIFF_BATCH_MAX} default. Each job is a whole generation
 * (prompt encoding, denoising, VAE decode); each variant is timed {@code reps} times after a
 * warm-up, alternating, and the best time is kept.
 *
 * <pre>
 * java -cp 'engine/target/classes:engine/target/lib/*' io.animatediff.engine.bench.BatchBenchmark \
 *     [--models tiny|world] [--jobs 4] [--steps 10] [--reps 3] [--threads 1,2]
 * </pre>
 */
public final class BatchBenchmark {
    /** What to measure. */
    public record Options(String models, int jobs, int steps, int reps, int[] threads) {
        public Options {
            if (!models.equals("tiny") && !models.equals("world")) {
                throw new IllegalArgumentException("--models " + models + " is not known: use tiny or world");
            }
            if (jobs < 2 || steps < 1 || reps < 1 || threads.length == 0) {
                throw new IllegalArgumentException("--jobs must be >= 2, --steps and --reps >= 1, --threads non-empty");
            }
        }
    }

    /** One thread count's figures: seconds for all jobs one by one and batched. */
    public record Row(int threads, double aloneSeconds, double batchedSeconds) {
        public double ratio() {
            return aloneSeconds / batchedSeconds;
        }
    }

    private final Options options;
    private final PrintStream out;

    public BatchBenchmark(Options options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        String models = "tiny";
        int jobs = 4;
        int steps = 10;
        int reps = 3;
        int[] threads = {1, 2};
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--models" -> models = v;
                case "--jobs" -> jobs = Integer.parseInt(v);
                case "--steps" -> steps = Integer.parseInt(v);
                case "--reps" -> reps = Integer.parseInt(v);
                case "--threads" ->
                    threads = Arrays.stream(v.split(","))
                            .mapToInt(s -> Integer.parseInt(s.trim()))
                            .toArray();
                default ->
                    throw new IllegalArgumentException("unknown argument " + args[i]
                            + ": use --models tiny|world, --jobs N, --steps N, --reps N, --threads 1,2");
            }
            i++;
        }
        new BatchBenchmark(new Options(models, jobs, steps, reps, threads), System.out).run();
    }

    /** Runs every thread count and prints one line each; returns the rows. */
    public List<Row> run() throws Exception {
        Path dir = Files.createTempDirectory("animatediff-batch-bench");
        int size;
        int frames;
        AnimateDiffModel model;
        if (options.models().equals("world")) {
            MiniWorldSet set = WorldModels.extract(dir);
            model = ModelLoader.load(set.base(), set.motion(), MotionModuleConfig.MotionNorm.OFFICIAL, List.of());
            size = WorldModels.SIZE;
            frames = WorldModels.FRAMES;
        } else {
            TinyModels.writeBaseModel(dir.resolve("base"), 0);
            TinyModels.writeMotionModule(dir.resolve("motion.safetensors"), MotionModuleConfig.tiny(false), 100, true);
            model = ModelLoader.load(
                    dir.resolve("base"),
                    dir.resolve("motion.safetensors"),
                    MotionModuleConfig.MotionNorm.OFFICIAL,
                    List.of());
            size = 64;
            frames = 4;
        }
        List<AnimationParams> jobs = new ArrayList<>();
        for (int k = 0; k < options.jobs(); k++) {
            jobs.add(AnimationParams.builder()
                    .prompt("job " + k + ": a red circle moving left")
                    .negativePrompt("blurry")
                    .frames(frames)
                    .size(size, size)
                    .steps(options.steps())
                    .guidanceScale(5.0 + k)
                    .seed(1000 + k)
                    .build());
        }
        out.printf(
                Locale.ROOT,
                "batch benchmark: %s models, %d jobs of %dx%d x %d frames, %d DDIM steps with CFG, best of %d,"
                        + " %d cores%n",
                options.models(),
                options.jobs(),
                size,
                size,
                frames,
                options.steps(),
                options.reps(),
                Runtime.getRuntime().availableProcessors());
        List<Row> rows = new ArrayList<>();
        try {
            for (int t : options.threads()) {
                JniUtils.setNumThreads(t);
                Row row = measure(model, jobs, t);
                rows.add(row);
                out.printf(
                        Locale.ROOT,
                        "torch threads %d: one by one %.3f s (%.2f jobs/s), batched %.3f s (%.2f jobs/s):"
                                + " batched/one-by-one throughput %.2fx%n",
                        t,
                        row.aloneSeconds(),
                        jobs.size() / row.aloneSeconds(),
                        row.batchedSeconds(),
                        jobs.size() / row.batchedSeconds(),
                        row.ratio());
            }
        } finally {
            model.close();
        }
        return rows;
    }

    private Row measure(AnimateDiffModel model, List<AnimationParams> jobs, int threads) {
        AnimationPipeline pipeline = new AnimationPipeline(model);
        BatchedGeneration batch = new BatchedGeneration(model);
        List<StepListener> listeners = Collections.nCopies(jobs.size(), StepListener.NONE);
        // warm-up: both paths once (allocator, kernels for both batch sizes)
        batch.run(jobs, listeners, true);
        pipeline.run(jobs.get(0), StepListener.NONE, true);
        double alone = Double.MAX_VALUE;
        double batched = Double.MAX_VALUE;
        for (int r = 0; r < options.reps(); r++) {
            long t0 = System.nanoTime();
            for (AnimationParams p : jobs) {
                pipeline.run(p, StepListener.NONE, true);
            }
            long t1 = System.nanoTime();
            batch.run(jobs, listeners, true);
            long t2 = System.nanoTime();
            alone = Math.min(alone, (t1 - t0) / 1e9);
            batched = Math.min(batched, (t2 - t1) / 1e9);
        }
        return new Row(threads, alone, batched);
    }
}
