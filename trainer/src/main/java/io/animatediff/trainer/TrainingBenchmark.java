package io.animatediff.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.animatediff.engine.bench.FastInit;
import io.animatediff.engine.bench.FlopCounter;
import io.animatediff.engine.clip.CLIPTextModel;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.schedulers.SchedulerConfig;
import io.animatediff.engine.text.ClipTokenizer;
import io.animatediff.engine.training.FolderDatasetSource;
import io.animatediff.engine.training.MotionTrainer;
import io.animatediff.engine.training.StepReport;
import io.animatediff.engine.training.SyntheticClips;
import io.animatediff.engine.training.TrainingConfig;
import io.animatediff.engine.training.TrainingListener;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.vae.AutoencoderKL;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The training benchmark: figures from one run on this machine.
 *
 * <ol>
 *   <li>Training samples (clips) per second over the timed steps.
 *   <li>The training step's FLOP rate against the same run's fp32 matmul rate (target >= 40%). The
 *       step's FLOPs are counted exactly by the engine's {@link FlopCounter} in a counting pass
 *       before training: the frozen VAE encode and text encoder (no autograd), the UNet with motion
 *       modules forward in grad mode, and from that forward the backward pass autograd will run:
 *       for each conv and linear the forward's FLOPs once for the input's gradient if its input
 *       requires grad (everything downstream of the first motion module) and once for the
 *       weight's if the weight does (motion weights only); for attention the gradients of those of
 *       q, k, v that require grad (see {@link io.animatediff.engine.ops.OpObserver}). The old
 *       estimate (backward = one UNet forward) is printed beside it. Rates by wall time, and per
 *       CPU second: the process's CPU time per step (every thread: the prefetch thread's VAE encode
 *       included) against the matmul's thread CPU time. With one torch thread CPU time is the work
 *       itself whatever else the machine runs; the verdict uses it then.
 *   <li>Memory across the run: resident set size (RSS) and native memory (RSS minus the committed
 *       Java heap) after the warm-up, half-way and at the end, and the peak RSS of the process;
 *       flat means the second half grows by at most 5% + 32 MB (shrinking is flat) (the first steps
 *       still fill allocator pools and the JIT's code cache).
 * </ol>
 *
 * <p>Run: {@code java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 -cp
 * 'trainer/target/classes:trainer/target/lib/*' io.animatediff.trainer.TrainingBenchmark [steps]
 * [size] [frames] [batch] [--unet tiny|sd15] [--prefetch true|false]}. {@code tiny} (defaults 200 64
 * 8 2): the tiny built-in base and a fresh tiny motion module. {@code sd15} (defaults 4 128 8 1):
 * random-weight models at Stable Diffusion 1.5 widths (UNet, VAE, CLIP ViT-L/14 text encoder; the
 * tiny tokenizer) with a fresh v2 motion module, built in memory (no files): peak RSS 14.43 GB at
 * 128 px with {@code --prefetch false} (the backward timing included; over 14 GB with the
 * prefetch), 12.4 GB at 64 px and 4 frames.
 */
public final class TrainingBenchmark {
    private TrainingBenchmark() {}

    /** What to run: positional steps, size, frames, batch; {@code --unet}, {@code --prefetch}. */
    record Options(boolean sd15, int steps, int size, int frames, int batch, boolean prefetch) {
        static Options parse(String[] args) {
            List<String> positional = new ArrayList<>();
            String unet = "tiny";
            boolean prefetch = true;
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--unet" -> unet = value(args, ++i, "--unet");
                    case "--prefetch" -> prefetch = Boolean.parseBoolean(value(args, ++i, "--prefetch"));
                    default -> positional.add(args[i]);
                }
            }
            if (!unet.equals("tiny") && !unet.equals("sd15")) {
                throw new IllegalArgumentException("--unet " + unet + ": use tiny or sd15");
            }
            boolean sd15 = unet.equals("sd15");
            int[] d = sd15 ? new int[] {4, 128, 8, 1} : new int[] {200, 64, 8, 2};
            for (int i = 0; i < positional.size() && i < d.length; i++) {
                d[i] = Integer.parseInt(positional.get(i));
            }
            return new Options(sd15, d[0], d[1], d[2], d[3], prefetch);
        }

        private static String value(String[] args, int i, String flag) {
            if (i >= args.length) {
                throw new IllegalArgumentException(flag + " needs a value");
            }
            return args[i];
        }
    }

    public static void main(String[] args) throws IOException {
        Options o = Options.parse(args);
        Path dir = Files.createTempDirectory("animatediff-train-bench");
        try {
            run(dir, o);
        } finally {
            S3Checkpoints.deleteTree(dir);
        }
    }

    static void run(Path dir, Options o) throws IOException {
        int steps = o.steps();
        int size = o.size();
        int frames = o.frames();
        int batch = o.batch();
        int warmUp = o.sd15() ? 1 : 3;
        System.out.printf(
                Locale.ROOT,
                "training benchmark: %d cores, torch threads %s; %s, %d steps of batch %d, %d frames at %d px,"
                        + " prefetch %s%n",
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                o.sd15()
                        ? "random-weight SD1.5-width UNet, VAE and text encoder, fresh v2 motion module"
                        : "tiny base, fresh tiny motion module",
                steps,
                batch,
                frames,
                size,
                o.prefetch() ? "on" : "off");
        double[] rates = matmul(1024);
        double matmul = rates[0];
        double matmulCpu = rates[1];
        TinyModels.writeBaseModel(dir.resolve("base"), 0);
        SyntheticClips.write(dir.resolve("data"), 16, frames + 4, size + size / 4, 5);
        TrainingConfig config = TrainingConfig.builder()
                .baseModel(dir.resolve("base"))
                .freshMotion(MotionModuleConfig.tiny(false))
                .outDir(dir.resolve("out"))
                .steps(warmUp + steps + 1)
                .batchSize(batch)
                .frames(frames)
                .stride(1)
                .size(size)
                .learningRate(1e-3)
                .checkpointEvery(1_000_000)
                .seed(7)
                .prefetch(o.prefetch())
                .build();
        FolderDatasetSource data = new FolderDatasetSource(dir.resolve("data"));
        long t0 = System.nanoTime();
        try (MotionTrainer trainer = o.sd15()
                ? MotionTrainer.open(config, sd15Model(dir.resolve("base")), data, TrainingListener.NONE)
                : MotionTrainer.open(config, data, TrainingListener.NONE)) {
            System.out.printf(
                    Locale.ROOT,
                    "model ready in %.1f s: %s; %,d trained parameters; RSS %d MB%n",
                    (System.nanoTime() - t0) / 1e9,
                    trainer.model().description(),
                    trainer.trainableParameters().values().stream()
                            .mapToLong(p -> p.shape().size())
                            .sum(),
                    rss() >> 20);
            Counted counted = count(trainer, batch, frames, size, o.sd15() ? 2 : 10);
            for (int i = 0; i < warmUp; i++) {
                StepReport r = trainer.step(); // warm-up
                System.out.printf(Locale.ROOT, "warm-up step %d: %.1f s, RSS %d MB%n", i + 1, r.seconds(), rss() >> 20);
            }
            System.gc();
            long rss0 = rss();
            long native0 = rss0 - committedHeap();
            List<Double> seconds = new ArrayList<>();
            List<Double> cpuSeconds = new ArrayList<>();
            List<Double> processCpuSeconds = new ArrayList<>();
            List<Long> rssPerStep = new ArrayList<>();
            List<Double> optimizerCpuSeconds = new ArrayList<>();
            double loss = Double.NaN;
            long rssMid = rss0;
            long nativeMid = native0;
            long start = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                long cpu = threadCpuNanos();
                long processCpu = processCpuNanos();
                long t = System.nanoTime();
                double stepLoss = trainer.accumulateGradients(); // step() in two timed parts
                long updateCpu = threadCpuNanos();
                trainer.applyGradients();
                long end = threadCpuNanos();
                double stepSeconds = (System.nanoTime() - t) / 1e9;
                cpuSeconds.add((end - cpu) / 1e9);
                optimizerCpuSeconds.add((end - updateCpu) / 1e9);
                processCpuSeconds.add((processCpuNanos() - processCpu) / 1e9);
                seconds.add(stepSeconds);
                loss = stepLoss;
                long now = rss();
                rssPerStep.add(now);
                if ((o.sd15() && steps <= 20) || (i + 1) % 10 == 0) {
                    System.out.printf(
                            Locale.ROOT,
                            "step %d: %.1f s, loss %.4f, RSS %d MB, peak RSS %d MB%n",
                            i + 1,
                            stepSeconds,
                            stepLoss,
                            now >> 20,
                            peakRss() >> 20);
                }
                if (i == steps / 2) {
                    System.gc();
                    rssMid = rss();
                    nativeMid = rssMid - committedHeap();
                }
            }
            double wall = (System.nanoTime() - start) / 1e9;
            System.gc();
            long rss1 = rss();
            long native1 = rss1 - committedHeap();
            report(counted, o, seconds, cpuSeconds, processCpuSeconds, wall, loss, matmul, matmulCpu);
            double optimizer = median(optimizerCpuSeconds);
            double passes = median(cpuSeconds) - optimizer;
            System.out.printf(
                    Locale.ROOT,
                    "the training thread's step, median: forward + backward (with the VAE encode and text encoder"
                            + " unless prefetched) %.1f ms CPU, the update (gradient clipping, AdamW, zeroing; no FLOPs"
                            + " counted) %.1f ms CPU = %.2f of it; the step's FLOPs per CPU-second of the passes alone (NaN with"
                            + " the prefetch: part of them ran on its thread)"
                            + " %.1f = %.2f of matmul%n",
                    passes * 1e3,
                    optimizer * 1e3,
                    optimizer / median(cpuSeconds),
                    o.prefetch() ? Double.NaN : counted.step() / passes / 1e9,
                    o.prefetch() ? Double.NaN : counted.step() / passes / 1e9 / matmulCpu);
            boolean flat = native1 - nativeMid <= nativeMid * 0.05 + (32L << 20);
            System.out.printf(
                    Locale.ROOT,
                    "memory over %d steps: RSS %d -> %d -> %d MB, native %d -> %d -> %d MB (after warm-up, half-way,"
                            + " end); second half %+.1f%% %s; peak RSS of the process %d MB%n",
                    steps,
                    rss0 >> 20,
                    rssMid >> 20,
                    rss1 >> 20,
                    native0 >> 20,
                    nativeMid >> 20,
                    native1 >> 20,
                    100.0 * (native1 - nativeMid) / Math.max(1, nativeMid),
                    flat ? "FLAT" : "GROWS",
                    peakRss() >> 20);
            windows(rssPerStep);
            System.out.printf(Locale.ROOT, "load average at the end: %s%n", loadAverage());
        }
    }

    /**
     * RSS sampled after every timed step, the first window of steps against the last (50 steps each,
     * or a quarter of the run when shorter): mean and max of each, and flat when the last window's
     * max exceeds the first's by at most 5% + 32 MB (the same allowance as the half-way check).
     */
    static void windows(List<Long> rssPerStep) {
        int n = rssPerStep.size();
        int w = Math.min(50, n / 4);
        if (w < 1) {
            return;
        }
        List<Long> first = rssPerStep.subList(0, w);
        List<Long> last = rssPerStep.subList(n - w, n);
        long firstMax = first.stream().mapToLong(Long::longValue).max().orElseThrow();
        long lastMax = last.stream().mapToLong(Long::longValue).max().orElseThrow();
        boolean flat = lastMax - firstMax <= firstMax * 0.05 + (32L << 20);
        System.out.printf(
                Locale.ROOT,
                "RSS after each step, steps 1-%d vs %d-%d: mean %d vs %d MB, max %d vs %d MB (%+d MB, %+.1f%%): %s%n",
                w,
                n - w + 1,
                n,
                (long) first.stream().mapToLong(Long::longValue).average().orElseThrow() >> 20,
                (long) last.stream().mapToLong(Long::longValue).average().orElseThrow() >> 20,
                firstMax >> 20,
                lastMax >> 20,
                (lastMax - firstMax) >> 20,
                100.0 * (lastMax - firstMax) / firstMax,
                flat ? "FLAT" : "GROWS");
    }

    /**
     * Random-weight models at SD1.5 widths, filled natively ({@link FastInit}: a fresh motion module's
     * {@code proj_out} zero), with the tiny base's tokenizer (77 tokens; ids below the vocabulary).
     */
    static AnimateDiffModel sd15Model(Path tinyBase) {
        NDManager manager = NDManager.newBaseManager();
        try {
            ClipTokenizer tokenizer = ClipTokenizer.load(tinyBase.resolve("tokenizer"));
            CLIPTextModel text = new CLIPTextModel(CLIPTextConfig.vitL14());
            FastInit.initialize(text, manager, 1);
            AutoencoderKL vae = new AutoencoderKL(AutoencoderKLConfig.sd15());
            FastInit.initialize(vae, manager, 2);
            UNet3DConditionModel unet = new UNet3DConditionModel(UNet2DConditionConfig.sd15(), MotionModuleConfig.v2());
            FastInit.initialize(unet, manager, 3);
            return new AnimateDiffModel(
                    manager,
                    tokenizer,
                    text,
                    vae,
                    unet,
                    SchedulerConfig.animateDiffDefault(),
                    "random-weight SD1.5 widths (UNet, VAE, CLIP ViT-L/14) + a fresh v2 motion module");
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** The step's analytic FLOPs by part. */
    record Counted(long vae, long text, long unetForward, long unetBackward) {
        long forward() {
            return vae + text + unetForward;
        }

        long step() {
            return forward() + unetBackward;
        }
    }

    /**
     * One counting pass over the parts of a step, before the first step (no prefetch running: the
     * counter sees every thread): the VAE encode of B x F frames and the text encoder without
     * autograd, the UNet forward with it (motion weights trainable), its backward counted from the
     * forward's grad flags.
     */
    static Counted count(MotionTrainer trainer, int batch, int frames, int size, int reps) {
        AnimateDiffModel model = trainer.model();
        int chunk = trainer.config().vaeChunk();
        long vae;
        long text;
        long unetForward;
        long unetBackward;
        boolean grad = JniUtils.isGradMode();
        try (NDManager m = NDManager.newBaseManager()) {
            JniUtils.setGradMode(false);
            try (FlopCounter c = FlopCounter.install()) {
                for (int start = 0; start < batch * frames; start += chunk) {
                    int n = Math.min(chunk, batch * frames - start);
                    try (NDManager part = m.newSubManager()) {
                        NDArray x = part.randomUniform(-1, 1, new Shape(n, 3, size, size)); // ((B F), 3, S, S)
                        model.vae().latentDist(x);
                    }
                }
                vae = c.flops();
            }
            int len = model.tokenizer().maxLength();
            NDArray embeddings;
            try (FlopCounter c = FlopCounter.install()) {
                embeddings = model.textEncoder().forward(m.zeros(new Shape(batch, len), DataType.INT64)); // (B, S, C)
                text = c.flops();
            }
            JniUtils.setGradMode(true);
            try (NDManager part = m.newSubManager();
                    FlopCounter c = FlopCounter.install()) {
                NDArray x = part.randomNormal(new Shape(batch, 4, frames, size / 8, size / 8)); // (B, C, F, h, w)
                NDArray t = part.create(new float[batch]); // (B)
                model.unet().forward(x, t, embeddings).close();
                unetForward = c.flops();
                unetBackward = c.backwardFlops();
            }
            JniUtils.setGradMode(grad);
            Counted counted = new Counted(vae, text, unetForward, unetBackward);
            System.out.printf(
                    Locale.ROOT,
                    "step FLOPs (analytic): VAE encode %.2f G, text %.3f G, UNet forward %.2f G, backward %.2f G"
                            + " (%.2f of the UNet forward; run D estimated 1.00, run E's leaf-only count 0.27-0.29):"
                            + " %.2f GFLOP%n",
                    vae / 1e9,
                    text / 1e9,
                    unetForward / 1e9,
                    unetBackward / 1e9,
                    (double) unetBackward / unetForward,
                    counted.step() / 1e9);
            timeBackward(trainer, embeddings, batch, frames, size, reps, (double) unetBackward / unetForward);
            return counted;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /**
     * The real backward against the forward, as a check of the counted ratio: the UNet forward in
     * grad mode and the epsilon-MSE's backward into the motion weights (as {@link MotionTrainer}'s
     * micro-batch), each timed by wall and by the calling thread's CPU (with one torch thread libtorch
     * runs both there: its CPU autograd engine works on the caller's thread), {@code reps} passes;
     * the ratio is of the best passes after the first (whose backward also allocates the gradients).
     * The
     * gradients are zeroed after, so the first training step starts as it would have.
     */
    static void timeBackward(
            MotionTrainer trainer, NDArray embeddings, int batch, int frames, int size, int reps, double counted) {
        AnimateDiffModel model = trainer.model();
        List<Double> forward = new ArrayList<>();
        List<Double> backward = new ArrayList<>();
        List<Double> forwardCpu = new ArrayList<>();
        List<Double> backwardCpu = new ArrayList<>();
        for (int i = 0; i < reps; i++) {
            try (NDManager part = embeddings.getManager().newSubManager();
                    GradientCollector collector = part.getEngine().newGradientCollector()) {
                NDArray x = part.randomNormal(new Shape(batch, 4, frames, size / 8, size / 8)); // (B, C, F, h, w)
                NDArray noise = part.randomNormal(x.getShape());
                NDArray t = part.create(new float[batch]); // (B)
                long wall = System.nanoTime();
                long cpu = threadCpuNanos();
                NDArray mse = model.unet()
                        .forward(x, t, embeddings)
                        .sub(noise)
                        .square()
                        .mean();
                mse.getFloat(); // the forward has run
                forward.add((System.nanoTime() - wall) / 1e9);
                forwardCpu.add((threadCpuNanos() - cpu) / 1e9);
                wall = System.nanoTime();
                cpu = threadCpuNanos();
                collector.backward(mse);
                backward.add((System.nanoTime() - wall) / 1e9);
                backwardCpu.add((threadCpuNanos() - cpu) / 1e9);
            }
        }
        for (Param p : trainer.trainableParameters().values()) {
            JniUtils.zeroGrad((PtNDArray) p.get());
        }
        for (int i = 0; i < reps; i++) {
            System.out.printf(
                    Locale.ROOT,
                    "  UNet forward + MSE %.1f ms, backward %.1f ms (thread CPU; wall %.1f / %.1f ms)%s%n",
                    forwardCpu.get(i) * 1e3,
                    backwardCpu.get(i) * 1e3,
                    forward.get(i) * 1e3,
                    backward.get(i) * 1e3,
                    i == 0 ? ", cold: the first backward allocates the motion weights' gradients" : "");
        }
        // warm: best of the passes after the first, unless there is only one
        int from = reps > 1 ? 1 : 0;
        double fc = Collections.min(forwardCpu.subList(from, reps));
        double bc = Collections.min(backwardCpu.subList(from, reps));
        double f = Collections.min(forward.subList(from, reps));
        double b = Collections.min(backward.subList(from, reps));
        System.out.printf(
                Locale.ROOT,
                "real backward vs forward (UNet, %s): measured time ratio %.2f by thread CPU (%.2f by wall) vs counted"
                        + " FLOP ratio %.2f: the backward ran at %.2f of the forward's FLOP rate%n",
                reps > 1 ? "best of passes 2-" + reps : "one cold pass",
                bc / fc,
                b / f,
                counted,
                counted / (bc / fc));
    }

    private static void report(
            Counted counted,
            Options o,
            List<Double> seconds,
            List<Double> cpuSeconds,
            List<Double> processCpuSeconds,
            double wall,
            double loss,
            double matmul,
            double matmulCpu) {
        int steps = seconds.size();
        double stepFlops = counted.step();
        double median = median(seconds);
        double p90 = seconds.stream().sorted().toList().get((int) (steps * 0.9));
        double rate = stepFlops / median / 1e9;
        System.out.printf(
                Locale.ROOT,
                "step: %.2f GFLOP (old estimate, backward = one UNet forward: %.2f); median %.1f ms, p90 %.1f ms,"
                        + " last loss %.4f%n",
                stepFlops / 1e9,
                (counted.forward() + counted.unetForward()) / 1e9,
                median * 1e3,
                p90 * 1e3,
                loss);
        System.out.printf(
                Locale.ROOT,
                "samples/s: %.3f (%d clips in %.1f s)%n",
                (double) steps * o.batch() / wall,
                steps * o.batch(),
                wall);
        double processCpu = median(processCpuSeconds);
        double cores = processCpu / median;
        System.out.printf(
                Locale.ROOT,
                "by wall time: training step %.1f GFLOP/s (median step; %.1f over the whole run) vs fp32 matmul"
                        + " %.1f GFLOP/s (one thread): ratio %.2f, with %.2f cores busy on average (process CPU /"
                        + " wall)%n",
                rate,
                stepFlops * steps / wall / 1e9,
                matmul,
                rate / matmul,
                cores);
        boolean oneThread = "1".equals(System.getProperty("ai.djl.pytorch.num_threads"));
        double cpuRate = stepFlops / processCpu / 1e9;
        System.out.printf(
                Locale.ROOT,
                "per CPU second%s: the process spends %.1f ms of CPU per step (the training thread %.1f ms),"
                        + " %.1f GFLOP per CPU-second vs fp32 matmul %.1f: ratio %.2f (target >= 0.40) %s%n",
                oneThread ? "" : " (torch runs more than one thread: CPU time includes its pool's spinning)",
                processCpu * 1e3,
                median(cpuSeconds) * 1e3,
                cpuRate,
                matmulCpu,
                cpuRate / matmulCpu,
                cpuRate / matmulCpu >= 0.40 ? "PASS" : "MISS");
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }

    /** fp32 n x n matmul rate, best of 5, GFLOP/s: by wall time and by the calling thread's CPU time. */
    static double[] matmul(int n) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.randomNormal(new Shape(n, n));
            NDArray b = m.randomNormal(new Shape(n, n));
            a.matMul(b).close();
            double best = Double.MAX_VALUE;
            double bestCpu = Double.MAX_VALUE;
            for (int i = 0; i < 5; i++) {
                long t = System.nanoTime();
                long cpu = threadCpuNanos();
                NDArray c = a.matMul(b);
                c.toFloatArray(); // wait for the result
                best = Math.min(best, (System.nanoTime() - t) / 1e9);
                bestCpu = Math.min(bestCpu, (threadCpuNanos() - cpu) / 1e9);
                c.close();
            }
            double rate = 2.0 * n * n * n / best / 1e9;
            double cpuRate = 2.0 * n * n * n / bestCpu / 1e9;
            System.out.printf(
                    Locale.ROOT,
                    "matmul %dx%d fp32: %.1f GFLOP/s (best of 5; %.1f by thread CPU time); load average %s%n",
                    n,
                    n,
                    rate,
                    cpuRate,
                    loadAverage());
            return new double[] {rate, cpuRate};
        }
    }

    /** CPU time of the whole process (every thread) in nanoseconds. */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** VmHWM, the peak resident set size of this process in bytes (Linux); 0 elsewhere. */
    static long peakRss() {
        return status("VmHWM:");
    }

    /** CPU time of the calling thread in nanoseconds. */
    private static long threadCpuNanos() {
        return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static long committedHeap() {
        return Runtime.getRuntime().totalMemory();
    }

    /** VmRSS of this process in bytes (Linux); 0 elsewhere. */
    static long rss() {
        return status("VmRSS:");
    }

    private static long status(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}
