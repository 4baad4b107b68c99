package io.animatediff.engine.ops;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.ops.Ops.Mode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Attention against this machine's matmul rate, from one run: for each sequence length S, libtorch's
 * fused scaled_dot_product_attention, the composed path in one unchunked pass and the composed path
 * in query chunks under a budget; each as time, analytic GFLOP/s (4 BN S^2 D) over the same run's
 * fp32 matmul rate, and peak extra native memory. With {@code bf16} it adds a bfloat16 line (fused
 * attention and matmul cast inside libtorch) as a ratio to fp32 and its error.
 *
 * <p>Peak memory is measured as the rise of the process's resident high-water mark (VmHWM) during
 * the call, reset before each call through {@code /proc/self/clear_refs} (Linux; "?" elsewhere), and
 * printed next to the bytes of score and probability matrices the variant materialises (computed).
 */
public final class AttentionBenchmark {
    /** Target: fused attention reaches at least this share of the fp32 matmul rate. */
    public static final double TARGET = 0.50;

    private static final long MB = 1 << 20;

    /** One variant at one S: seconds (best), rate over matmul, peak rise (bytes, -1 unknown), score bytes. */
    public record Row(String variant, long s, double seconds, double ofMatmul, long peakBytes, long scoreBytes) {}

    private final PrintStream out;
    private final int batchHeads;
    private final int headDim;
    private final long chunkBudget;
    private final int matmulSize;

    /**
     * {@code batchHeads} B*N (8 at SD1.5 level 1, 16 with CFG), {@code headDim} D (40 there), {@code
     * chunkBudget} the chunked variant's score budget in bytes, {@code matmulSize} the side of the
     * reference matmul.
     */
    public AttentionBenchmark(PrintStream out, int batchHeads, int headDim, long chunkBudget, int matmulSize) {
        if (batchHeads < 1 || headDim < 1 || chunkBudget < 1 || matmulSize < 1) {
            throw new IllegalArgumentException("attention benchmark: batch*heads " + batchHeads + ", D " + headDim
                    + ", budget " + chunkBudget + ", matmul side " + matmulSize + " must all be >= 1");
        }
        this.out = out;
        this.batchHeads = batchHeads;
        this.headDim = headDim;
        this.chunkBudget = chunkBudget;
        this.matmulSize = matmulSize;
    }

    /** Runs every S in {@code lengths}, printing as it goes; returns the rows. Restores Ops' mode and budget. */
    public List<Row> run(int[] lengths, boolean bf16) {
        List<Row> rows = new ArrayList<>();
        Optional<FusedKernels> kernels = FusedKernels.get();
        out.printf(
                Locale.ROOT,
                "attention benchmark: B*N=%d, D=%d, chunk budget %d MiB, fused kernels %s, load average %s%n",
                batchHeads,
                headDim,
                chunkBudget / MB,
                kernels.isPresent() ? "loaded" : "UNAVAILABLE",
                loadAverage());
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            double matmul = matmul(manager);
            for (int s : lengths) {
                rows.addAll(attention(manager, s, matmul));
                matmul = Math.max(matmul, matmul(manager)); // the machine is shared: the best counts
            }
            out.printf(Locale.ROOT, "matmul fp32 used for the ratios (best in this run): %.1f GFLOP/s%n", matmul);
            for (Row r : rows) {
                if (r.variant().equals("fused")) {
                    double ratio = r.seconds() > 0
                            ? (4.0 * batchHeads * r.s() * r.s() * headDim / r.seconds() / 1e9) / matmul
                            : 0;
                    out.printf(
                            Locale.ROOT,
                            "%s fused attention S=%d: %.2f of matmul (target >= %.2f)%n",
                            ratio >= TARGET ? "PASS" : "MISS",
                            r.s(),
                            ratio,
                            TARGET);
                }
            }
            if (bf16 && kernels.isPresent()) {
                bf16(manager, kernels.get(), lengths[0]);
            }
        } finally {
            Ops.setMode(null);
            Ops.setAttentionBudget(null);
        }
        out.printf(Locale.ROOT, "load average at the end: %s%n", loadAverage());
        return rows;
    }

    private double matmul(NDManager manager) {
        int n = matmulSize;
        try (NDManager scope = manager.newSubManager()) {
            NDArray a = scope.randomNormal(new Shape(n, n));
            NDArray b = scope.randomNormal(new Shape(n, n));
            double best = best(time(5, () -> a.matMul(b)));
            double rate = 2.0 * n * n * n / best / 1e9;
            out.printf(Locale.ROOT, "matmul %dx%d fp32: %.1f GFLOP/s (best of 5)%n", n, n, rate);
            return rate;
        }
    }

    private List<Row> attention(NDManager manager, int s, double matmul) {
        double flops = 4.0 * batchHeads * s * s * headDim; // q k^T and p v
        out.printf(
                Locale.ROOT,
                "attention (B*N=%d, S=%d, D=%d), %.2f GFLOP per call:%n",
                batchHeads,
                s,
                headDim,
                flops / 1e9);
        try (NDManager scope = manager.newSubManager()) {
            NDArray q = scope.randomNormal(new Shape(batchHeads, s, headDim)); // (B N, S, D)
            NDArray k = scope.randomNormal(new Shape(batchHeads, s, headDim));
            NDArray v = scope.randomNormal(new Shape(batchHeads, s, headDim));
            long rowsPerChunk = Math.min(s, ComposedOps.chunkRows(q.getShape(), k.getShape(), 4, chunkBudget));
            String[] names = {"fused", "unfused", "chunked"};
            long[] scoreBytes = {0, 2L * batchHeads * s * s * 4, 2L * batchHeads * rowsPerChunk * s * 4};
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
                    NDArray result = Ops.attention(q, k, v);
                    double seconds = (System.nanoTime() - t) / 1e9;
                    long high = ResidentMemory.peakResident();
                    peak[i] = base < 0 || high < 0 ? -1 : Math.max(peak[i], high - base);
                    result.close();
                    if (round >= 0) {
                        best[i] = Math.min(best[i], seconds);
                    }
                }
            }
            List<Row> rows = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                double rate = flops / best[i] / 1e9;
                rows.add(new Row(names[i], s, best[i], rate / matmul, peak[i], scoreBytes[i]));
                out.printf(
                        Locale.ROOT,
                        "  %-8s %9.1f ms %7.1f GFLOP/s %5.2f of matmul  peak RSS rise %s; scores+probs materialised %s%s%n",
                        names[i],
                        best[i] * 1e3,
                        rate,
                        rate / matmul,
                        peak[i] < 0 ? "?" : mib(peak[i]),
                        i == 0 ? "none (S x S never stored)" : mib(scoreBytes[i]),
                        i == 2 ? " (" + rowsPerChunk + "-row chunks)" : "");
            }
            Ops.setMode(Mode.FUSED);
            Ops.setAttentionBudget(null);
            try (NDArray fused = Ops.attention(q, k, v)) {
                Ops.setMode(Mode.COMPOSED);
                Ops.setAttentionBudget(chunkBudget);
                try (NDArray chunked = Ops.attention(q, k, v)) {
                    out.printf(Locale.ROOT, "  max |fused - chunked| = %.2e%n", maxAbsDiff(fused, chunked));
                }
            }
            Ops.setMode(null);
            Ops.setAttentionBudget(null);
            return rows;
        }
    }

    /** bfloat16 against float32 for fused attention at S and for the matmul; casts timed in. */
    private void bf16(NDManager manager, FusedKernels kernels, int s) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray q = scope.randomNormal(new Shape(batchHeads, s, headDim)); // (B N, S, D)
            NDArray k = scope.randomNormal(new Shape(batchHeads, s, headDim));
            NDArray v = scope.randomNormal(new Shape(batchHeads, s, headDim));
            double fp32 = best(time(3, () -> kernels.attention(q, k, v)));
            double bf16 = best(time(3, () -> kernels.attentionBf16(q, k, v)));
            double error;
            try (NDArray a = kernels.attention(q, k, v);
                    NDArray b = kernels.attentionBf16(q, k, v)) {
                error = maxAbsDiff(a, b);
            }
            int n = matmulSize;
            NDArray a = scope.randomNormal(new Shape(n, n));
            NDArray b = scope.randomNormal(new Shape(n, n));
            double mm32 = best(time(3, () -> a.matMul(b)));
            double mm16 = best(time(3, () -> kernels.matmulBf16(a, b)));
            out.printf(
                    Locale.ROOT,
                    "bf16 on CPU (cast inside libtorch, timed in): fused attention S=%d %.1f ms vs fp32 %.1f ms"
                            + " = %.2fx speed, max |bf16 - fp32| %.1e; matmul %d %.1f ms vs %.1f ms = %.2fx%n",
                    s,
                    bf16 * 1e3,
                    fp32 * 1e3,
                    fp32 / bf16,
                    error,
                    n,
                    mm16 * 1e3,
                    mm32 * 1e3,
                    mm32 / mm16);
        }
    }

    private static double[] time(int reps, Supplier<NDArray> op) {
        op.get().close();
        double[] seconds = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t = System.nanoTime();
            NDArray result = op.get(); // CPU kernels run eagerly: the result is complete here
            seconds[i] = (System.nanoTime() - t) / 1e9;
            result.close();
        }
        return seconds;
    }

    private static double best(double[] seconds) {
        return Arrays.stream(seconds).min().orElseThrow();
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.0f MiB", bytes / (double) MB);
    }

    private static double maxAbsDiff(NDArray a, NDArray b) {
        try (NDArray diff = a.sub(b);
                NDArray abs = diff.abs();
                NDArray max = abs.max()) {
            return max.getFloat();
        }
    }

    private static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }
}
