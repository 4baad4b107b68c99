package io.animatediff.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.bench.FlopCounter;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.ops.OpObserver.Kind;
import io.animatediff.engine.training.FolderDatasetSource;
import io.animatediff.engine.training.MotionTrainer;
import io.animatediff.engine.training.StepReport;
import io.animatediff.engine.training.SyntheticClips;
import io.animatediff.engine.training.TrainingConfig;
import io.animatediff.engine.training.TrainingListener;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The training benchmark: figures from one run on this machine.
 *
 * <ol>
 *   <li>Training samples (clips) per second over the timed steps.
 *   <li>The training step's FLOP rate against the same run's fp32 matmul rate (target >= 40%). The
 *       forward FLOPs of a step (VAE encode, text encoder, UNet with motion modules) are counted
 *       exactly by the engine's {@link FlopCounter}; the backward pass runs inside libtorch's
 *       autograd, where no op is observed, and is counted as one more UNet forward (gradients
 *       with respect to activations; the frozen weights get no weight gradients, the motion
 *       weights' are small): step FLOPs = forward + UNet forward. Also by the calling thread's CPU
 *       time for both the step and the matmul: with one torch thread that is the work done whatever
 *       else the machine runs (on a shared machine wall time mostly measures waiting for a core).
 *   <li>Memory across the run: resident set size (RSS) and native memory (RSS minus the committed
 *       Java heap) after the warm-up, half-way and at the end; flat means the second half grows by
 *       at most 5% + 32 MB (shrinking is flat) (the first steps still fill allocator pools and the JIT's code cache).
 * </ol>
 *
 * <p>Run: {@code java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=2 -cp
 * 'trainer/target/classes:trainer/target/lib/*' io.animatediff.trainer.TrainingBenchmark [steps]
 * [size] [frames] [batch]} (defaults 200 64 8 2: the tiny built-in model, a fresh tiny motion module).
 */
public final class TrainingBenchmark {
    private TrainingBenchmark() {}

    public static void main(String[] args) throws IOException {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int frames = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        Path dir = Files.createTempDirectory("animatediff-train-bench");
        try {
            run(dir, steps, size, frames, batch);
        } finally {
            S3Checkpoints.deleteTree(dir);
        }
    }

    static void run(Path dir, int steps, int size, int frames, int batch) throws IOException {
        System.out.printf(
                Locale.ROOT,
                "training benchmark: %d cores, torch threads %s; tiny base, fresh tiny motion module,"
                        + " %d steps of batch %d, %d frames at %d px%n",
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                steps,
                batch,
                frames,
                size);
        double[] rates = matmul(1024);
        double matmul = rates[0];
        double matmulCpu = rates[1];
        TinyModels.writeBaseModel(dir.resolve("base"), 0);
        SyntheticClips.write(dir.resolve("data"), 16, frames + 4, size + size / 4, 5);
        TrainingConfig config = TrainingConfig.builder()
                .baseModel(dir.resolve("base"))
                .freshMotion(MotionModuleConfig.tiny(false))
                .outDir(dir.resolve("out"))
                .steps(steps + 5)
                .batchSize(batch)
                .frames(frames)
                .stride(1)
                .size(size)
                .learningRate(1e-3)
                .checkpointEvery(1_000_000)
                .seed(7)
                .build();
        try (MotionTrainer trainer =
                MotionTrainer.open(config, new FolderDatasetSource(dir.resolve("data")), TrainingListener.NONE)) {
            for (int i = 0; i < 3; i++) {
                trainer.step(); // warm-up
            }
            // one counting pass: forward FLOPs of a step by kind
            long forward;
            long unet;
            try (FlopCounter c = FlopCounter.install()) {
                trainer.step();
                forward = c.flops();
            }
            // the UNet's share of it, counted on its own (the backward runs through the UNet only: the
            // VAE encode and the text encoder run without autograd)
            try (NDManager m = NDManager.newBaseManager();
                    FlopCounter c = FlopCounter.install()) {
                int hidden = (int) trainer.model().textEncoder().config().hiddenSize();
                int len = trainer.model().tokenizer().maxLength();
                NDArray x = m.randomNormal(new Shape(batch, 4, frames, size / 8, size / 8)); // (B, C, F, h, w)
                NDArray t = m.create(new float[batch]); // (B)
                NDArray text = m.randomNormal(new Shape(batch, len, hidden)); // (B, S, C)
                trainer.model().unet().forward(x, t, text).close();
                unet = c.flops(Kind.CONV) + c.flops(Kind.LINEAR) + c.flops(Kind.ATTENTION);
            }
            System.gc();
            long rss0 = rss();
            long native0 = rss0 - committedHeap();
            List<Double> seconds = new ArrayList<>();
            List<Double> cpuSeconds = new ArrayList<>();
            double loss = Double.NaN;
            long rssMid = rss0;
            long nativeMid = native0;
            long t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                long cpu = threadCpuNanos();
                StepReport r = trainer.step();
                cpuSeconds.add((threadCpuNanos() - cpu) / 1e9);
                seconds.add(r.seconds());
                loss = r.loss();
                if (i == steps / 2) {
                    System.gc();
                    rssMid = rss();
                    nativeMid = rssMid - committedHeap();
                }
            }
            double wall = (System.nanoTime() - t0) / 1e9;
            System.gc();
            long rss1 = rss();
            long native1 = rss1 - committedHeap();
            double samplesPerSecond = (double) steps * batch / wall;
            List<Double> sorted = seconds.stream().sorted().toList();
            double median = sorted.get(sorted.size() / 2);
            double p90 = sorted.get((int) (sorted.size() * 0.9));
            // the backward pass: one more UNet-sized pass (activation gradients), see the class comment
            double stepFlops = forward + unet;
            double rate = stepFlops / median / 1e9;
            System.out.printf(
                    Locale.ROOT,
                    "step: %.2f GFLOP forward counted (%.2f of it in the UNet), %.2f GFLOP with backward;"
                            + " median %.1f ms, p90 %.1f ms, last loss %.4f%n",
                    forward / 1e9,
                    unet / 1e9,
                    stepFlops / 1e9,
                    median * 1e3,
                    p90 * 1e3,
                    loss);
            System.out.printf(
                    Locale.ROOT, "samples/s: %.2f (%d clips in %.1f s)%n", samplesPerSecond, steps * batch, wall);
            System.out.printf(
                    Locale.ROOT,
                    "training step %.1f GFLOP/s (median step; %.1f over the whole run, data loading included)"
                            + " vs fp32 matmul %.1f GFLOP/s: ratio %.2f (target >= 0.40) %s%n",
                    rate,
                    stepFlops * steps / wall / 1e9,
                    matmul,
                    rate / matmul,
                    rate / matmul >= 0.40 ? "PASS" : "MISS");
            // With one torch thread every kernel runs on the calling thread: its CPU time is the step's
            // work whatever else the machine runs (wall time also counts waiting for a core).
            double cpuMedian = cpuSeconds.stream().sorted().toList().get(cpuSeconds.size() / 2);
            double cpuRate = stepFlops / cpuMedian / 1e9;
            boolean oneThread = "1".equals(System.getProperty("ai.djl.pytorch.num_threads"));
            System.out.printf(
                    Locale.ROOT,
                    "thread CPU time%s: median step %.1f ms, %.1f GFLOP/s vs fp32 matmul %.1f GFLOP/s: ratio %.2f"
                            + " (target >= 0.40) %s%n",
                    oneThread ? "" : " (not the step's work: torch runs more than one thread)",
                    cpuMedian * 1e3,
                    cpuRate,
                    matmulCpu,
                    cpuRate / matmulCpu,
                    cpuRate / matmulCpu >= 0.40 ? "PASS" : "MISS");
            boolean flat = native1 - nativeMid <= nativeMid * 0.05 + (32L << 20);
            System.out.printf(
                    Locale.ROOT,
                    "memory over %d steps: RSS %d -> %d -> %d MB, native %d -> %d -> %d MB (after warm-up, half-way,"
                            + " end); second half %+.1f%% %s%n",
                    steps,
                    rss0 >> 20,
                    rssMid >> 20,
                    rss1 >> 20,
                    native0 >> 20,
                    nativeMid >> 20,
                    native1 >> 20,
                    100.0 * (native1 - nativeMid) / Math.max(1, nativeMid),
                    flat ? "FLAT" : "GROWS");
            System.out.printf(Locale.ROOT, "load average at the end: %s%n", loadAverage());
        }
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
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}
