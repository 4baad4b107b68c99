package io.animatediff.engine.ops;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.ops.Ops.Mode;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Measures, in one run, this machine's matmul rate and the engine's ops against it: attention
 * fused / composed / query-chunked, group norm fused / composed, silu, DJL's conv2d at SD widths and
 * the per-call overhead of the TorchScript route. Peak memory is the rise of the process's resident
 * high-water mark during the op (Linux; reset through /proc/self/clear_refs).
 *
 * <p>Run: {@code ./mvnw -q -pl engine -am package -DskipTests} then {@code java -cp
 * "engine/target/classes:engine/target/lib/*" -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=2
 * io.animatediff.engine.ops.OpsBenchmark}.
 */
public final class OpsBenchmark {
    private static final int MB = 1 << 20;

    private OpsBenchmark() {}

    public static void main(String[] args) {
        Engine engine = Engine.getEngine("PyTorch");
        engine.setRandomSeed(0);
        System.out.printf(
                Locale.ROOT,
                "threads %s, fused kernels %s%n",
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                Ops.fusedAvailable() ? "loaded" : "UNAVAILABLE");
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            double matmul = matmul(manager);
            attention(manager, 8, 1024, 40, matmul);
            attention(manager, 8, 4096, 40, matmul);
            groupNorm(manager);
            silu(manager);
            matmul = Math.max(matmul, matmul(manager)); // re-measured: the machine is shared
            conv(manager, new Shape(2, 320, 32, 32), 320, matmul);
            conv(manager, new Shape(2, 320, 64, 64), 320, matmul);
            conv(manager, new Shape(2, 1280, 8, 8), 1280, matmul);
            overhead(manager);
        } finally {
            Ops.setMode(null);
            Ops.setAttentionBudget(null);
        }
    }

    private static double matmul(NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray a = scope.randomNormal(new Shape(2048, 2048));
            NDArray b = scope.randomNormal(new Shape(2048, 2048));
            double[] seconds = time(7, () -> a.matMul(b));
            double rate = 2.0 * 2048 * 2048 * 2048 / best(seconds) / 1e9;
            System.out.printf(
                    Locale.ROOT,
                    "matmul 2048x2048 fp32: %.1f GFLOP/s (best of %d; ratios use the best measurement so far)%n",
                    rate,
                    seconds.length);
            return rate;
        }
    }

    private static void attention(NDManager manager, int batch, int s, int d, double matmul) {
        double flops = 4.0 * batch * s * s * d; // q k^T and p v
        System.out.printf(
                Locale.ROOT, "attention (B*N=%d, S=%d, D=%d), %.1f GFLOP per call:%n", batch, s, d, flops / 1e9);
        try (NDManager scope = manager.newSubManager()) {
            NDArray q = scope.randomNormal(new Shape(batch, s, d)); // (B N, S, D)
            NDArray k = scope.randomNormal(new Shape(batch, s, d));
            NDArray v = scope.randomNormal(new Shape(batch, s, d));
            long chunkBudget = Ops.DEFAULT_ATTENTION_BUDGET;
            long rows = Math.min(s, ComposedOps.chunkRows(q.getShape(), k.getShape(), 4, chunkBudget));
            String[] names = {"fused", "composed", "chunked"};
            String[] estimates = {
                "~0 (S x S never materialised)",
                mb(2L * batch * s * s * 4) + " scores+probs",
                mb(2L * batch * rows * s * 4) + " (" + rows + "-row chunks, budget " + mb(chunkBudget) + ")"
            };
            Mode[] modes = {Mode.FUSED, Mode.COMPOSED, Mode.COMPOSED};
            Long[] budgets = {null, Long.MAX_VALUE, chunkBudget};
            int rounds = s > 2048 ? 2 : 4;
            double[] best = new double[3];
            long[] peak = new long[3];
            Arrays.fill(best, Double.MAX_VALUE);
            for (int round = -1; round < rounds; round++) { // round -1 warms up; variants interleave
                for (int i = 0; i < 3; i++) {
                    Ops.setMode(modes[i]);
                    Ops.setAttentionBudget(budgets[i]);
                    long base = ResidentMemory.resetPeak();
                    long t = System.nanoTime();
                    NDArray out = Ops.attention(q, k, v);
                    double seconds = (System.nanoTime() - t) / 1e9;
                    peak[i] = Math.max(peak[i], base < 0 ? -1 : ResidentMemory.peakResident() - base);
                    out.close();
                    if (round >= 0) {
                        best[i] = Math.min(best[i], seconds);
                    }
                }
            }
            for (int i = 0; i < 3; i++) {
                double rate = flops / best[i] / 1e9;
                System.out.printf(
                        Locale.ROOT,
                        "  %-8s %8.1f ms  %6.1f GFLOP/s  %.2f of matmul  peak +%s measured, %s estimated%n",
                        names[i],
                        best[i] * 1e3,
                        rate,
                        rate / matmul,
                        peak[i] < 0 ? "?" : mb(peak[i]),
                        estimates[i]);
            }
            Ops.setMode(Mode.FUSED);
            Ops.setAttentionBudget(null);
            try (NDArray fused = Ops.attention(q, k, v)) {
                Ops.setMode(Mode.COMPOSED);
                try (NDArray chunked = Ops.attention(q, k, v)) {
                    System.out.printf(Locale.ROOT, "  max |fused - chunked| = %.2e%n", maxAbsDiff(fused, chunked));
                }
            }
            Ops.setMode(null);
        }
    }

    private static void groupNorm(NDManager manager) {
        Shape shape = new Shape(32, 320, 64, 64); // (N, C, H, W)
        System.out.printf(Locale.ROOT, "group norm %s, 32 groups (%s in):%n", shape, mb(shape.size() * 4));
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = scope.randomNormal(shape);
            NDArray w = scope.randomNormal(new Shape(320));
            NDArray b = scope.randomNormal(new Shape(320));
            Ops.setMode(Ops.Mode.FUSED);
            NDArray fused = Ops.groupNorm(x, 32, w, b, 1e-5);
            double[] f = time(3, () -> Ops.groupNorm(x, 32, w, b, 1e-5));
            Ops.setMode(Ops.Mode.COMPOSED);
            double[] c = time(2, () -> Ops.groupNorm(x, 32, w, b, 1e-5));
            try (NDArray composed = Ops.groupNorm(x, 32, w, b, 1e-5)) {
                System.out.printf(
                        Locale.ROOT,
                        "  fused %.1f ms, composed %.1f ms (%.1fx); max |diff| %.1e%n",
                        best(f) * 1e3,
                        best(c) * 1e3,
                        best(c) / best(f),
                        maxAbsDiff(fused, composed));
            }
            Ops.setMode(null);
        }
    }

    private static void silu(NDManager manager) {
        Shape shape = new Shape(8, 320, 64, 64);
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = scope.randomNormal(shape);
            Ops.setMode(Ops.Mode.FUSED);
            double[] f = time(3, () -> Ops.silu(x));
            Ops.setMode(Ops.Mode.COMPOSED);
            double[] c = time(3, () -> Ops.silu(x));
            System.out.printf(
                    Locale.ROOT, "silu %s: fused %.1f ms, composed %.1f ms%n", shape, best(f) * 1e3, best(c) * 1e3);
            Ops.setMode(null);
        }
    }

    private static void conv(NDManager manager, Shape input, int out, double matmul) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = scope.randomNormal(input); // (N, Cin, H, W)
            long cin = input.get(1);
            NDArray w = scope.randomNormal(new Shape(out, cin, 3, 3)).mul(0.02);
            NDArray b = scope.zeros(new Shape(out));
            double flops = 2.0 * input.get(0) * out * input.get(2) * input.get(3) * cin * 9;
            double[] s = time(3, () -> Ops.conv2d(x, w, b, 1, 1));
            double rate = flops / best(s) / 1e9;
            System.out.printf(
                    Locale.ROOT,
                    "conv2d %s 3x3 %d->%d: %.1f ms, %.1f GFLOP/s = %.2f of matmul%n",
                    input,
                    cin,
                    out,
                    best(s) * 1e3,
                    rate,
                    rate / matmul);
        }
    }

    /** Per-call cost on a 4x4 tensor: one plain DJL op, composed silu (2 ops), the TorchScript call. */
    private static void overhead(NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = scope.randomNormal(new Shape(4, 4));
            int calls = 5000;
            double plain = Double.MAX_VALUE;
            double composed = Double.MAX_VALUE;
            double fused = Double.MAX_VALUE;
            for (int round = 0; round < 5; round++) { // interleaved, best round: the machine is shared
                plain = Math.min(plain, perCall(calls, () -> x.add(1f)));
                Ops.setMode(Ops.Mode.COMPOSED);
                composed = Math.min(composed, perCall(calls, () -> Ops.silu(x)));
                Ops.setMode(Ops.Mode.FUSED);
                fused = Math.min(fused, perCall(calls, () -> Ops.silu(x)));
            }
            System.out.printf(
                    Locale.ROOT,
                    "per-call cost on (4, 4): DJL add %.1f us, composed silu (2 DJL ops) %.1f us,"
                            + " TorchScript silu %.1f us%n",
                    plain,
                    composed,
                    fused);
            Ops.setMode(null);
        }
    }

    /** Runs the op reps times after one warm-up call, closing each result; seconds per call. */
    private static double[] time(int reps, Supplier<NDArray> op) {
        op.get().close();
        double[] seconds = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t = System.nanoTime();
            NDArray out = op.get(); // CPU kernels run eagerly: the result is complete here
            seconds[i] = (System.nanoTime() - t) / 1e9;
            out.close();
        }
        return seconds;
    }

    private static double perCall(int calls, Supplier<NDArray> op) {
        for (int i = 0; i < calls / 10; i++) {
            op.get().close();
        }
        long t = System.nanoTime();
        for (int i = 0; i < calls; i++) {
            op.get().close();
        }
        return (System.nanoTime() - t) / 1e3 / calls;
    }

    private static double best(double[] seconds) {
        return Arrays.stream(seconds).min().orElseThrow();
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.0f MB", bytes / (double) MB);
    }

    private static double maxAbsDiff(NDArray a, NDArray b) {
        try (NDArray diff = a.sub(b);
                NDArray abs = diff.abs();
                NDArray max = abs.max()) {
            return max.getFloat();
        }
    }
}
