package io.animatediff.engine.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.ops.Bfloat16;
import io.animatediff.engine.ops.Ops;
import io.animatediff.engine.ops.ResidentMemory;
import io.animatediff.engine.unet.UNet3DConditionModel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * bfloat16 against float32 on this CPU, in one run: the UNet's dominant ops at SD1.5 widths (3x3
 * convolutions and linear projections), each timed in float32 (DJL's op, today's path) and in
 * bfloat16 two ways: (a) activation and weight cast on every call, (b) weight cast once and held by
 * libtorch ({@link Bfloat16#copyOf}), activation cast per call; then one UNet-with-motion forward in
 * float32 against one with {@link Bfloat16} switched on. Each figure is the best of interleaved
 * rounds after a warm-up; the error of a bfloat16 result y against the float32 result r is given
 * as max|y - r| / max|r| and mean|y - r| / mean|r|.
 *
 * <p>Run: {@code flock -x /tmp/sd15.lock ./animatediff bench --bf16-ops --latent 16 --frames 16}
 * ({@code --unet tiny} for a quick check).
 */
public final class Bf16Benchmark {
    private static final long MIB = 1 << 20;

    /** A bfloat16 result against float32: time ratio (fp32 / bf16) and relative errors. */
    public record Comparison(double fp32Seconds, double bf16Seconds, double maxRelError, double meanRelError) {
        public double speedup() {
            return fp32Seconds / bf16Seconds;
        }
    }

    private final PrintStream out;
    private final boolean sd15;
    private final int latent;
    private final int frames;

    /** {@code sd15} false: the tiny UNet; {@code latent} side and {@code frames} of the UNet forward. */
    public Bf16Benchmark(PrintStream out, boolean sd15, int latent, int frames) {
        if (latent < 1 || frames < 1) {
            throw new IllegalArgumentException(
                    "bf16 benchmark: latent " + latent + " and frames " + frames + " must be >= 1");
        }
        this.out = out;
        this.sd15 = sd15;
        this.latent = latent;
        this.frames = frames;
    }

    /** Runs the op comparisons, then the UNet forwards; returns the UNet's comparison. */
    public Comparison run() {
        if (!Bfloat16.available()) {
            throw new IllegalStateException("bf16 benchmark: libtorch's kernels through TorchScript did not load"
                    + " (see the warning above); nothing to compare");
        }
        out.printf(
                Locale.ROOT,
                "bf16 benchmark: CPU flags %s, torch threads %s, load average %s%n",
                cpuFlags(),
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                loadAverage());
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            m.getEngine().setRandomSeed(0);
            Bfloat16.setEnabled(false);
            conv(m, new Shape(16, 320, 64, 64), 320, "down level 1, 64x64 latents x 16 frames");
            conv(m, new Shape(16, 640, 32, 32), 640, "level 2, 32x32 x 16");
            conv(m, new Shape(16, 1280, 8, 8), 1280, "level 4, 8x8 x 16");
            linear(m, 16 * 4096, 320, 320, "attention projection, 4096 tokens x 16 frames");
            linear(m, 16 * 64, 1280, 2 * 5120, "GEGLU proj 1280 -> 2x5120, 8x8 tokens x 16 frames");
            linear(m, 16 * 64, 5120, 1280, "feed-forward out 5120 -> 1280, 8x8 tokens x 16 frames");
            return unet(m);
        } finally {
            Bfloat16.setEnabled(null);
            Bfloat16.clearCache();
        }
    }

    private void conv(NDManager manager, Shape input, int cout, String where) {
        try (NDManager s = manager.newSubManager()) {
            long cin = input.get(1);
            NDArray x = s.randomNormal(input); // (N, Cin, H, W)
            float bound = (float) (1 / Math.sqrt(cin * 9.0));
            NDArray w = s.randomUniform(-bound, bound, new Shape(cout, cin, 3, 3));
            NDArray b = s.randomUniform(-bound, bound, new Shape(cout));
            double gflop = 2.0 * input.get(0) * cout * input.get(2) * input.get(3) * cin * 9 / 1e9;
            try (NDArray copy = Bfloat16.copyOf(w)) {
                compare(
                        String.format(Locale.ROOT, "conv 3x3 %d->%d on %s (%s)", cin, cout, input, where),
                        gflop,
                        () -> Ops.conv2d(x, w, b, 1, 1),
                        () -> Bfloat16.conv2d(x, w, b, 1, 1),
                        () -> Bfloat16.conv2d(x, copy, b, 1, 1));
            }
        }
    }

    private void linear(NDManager manager, long rows, int cin, int cout, String where) {
        try (NDManager s = manager.newSubManager()) {
            NDArray x = s.randomNormal(new Shape(rows, cin)); // (S, Cin)
            float bound = (float) (1 / Math.sqrt(cin));
            NDArray w = s.randomUniform(-bound, bound, new Shape(cout, cin));
            NDArray b = s.randomUniform(-bound, bound, new Shape(cout));
            double gflop = 2.0 * rows * cin * cout / 1e9;
            try (NDArray copy = Bfloat16.copyOf(w)) {
                compare(
                        String.format(Locale.ROOT, "linear %d x %d -> %d (%s)", rows, cin, cout, where),
                        gflop,
                        () -> Ops.linear(x, w, b),
                        () -> Bfloat16.linear(x, w, b),
                        () -> Bfloat16.linear(x, copy, b));
            }
        }
    }

    /** fp32, (a) cast per call, (b) held weight: interleaved rounds, best of each; prints one block. */
    private void compare(
            String name, double gflop, Supplier<NDArray> fp32, Supplier<NDArray> perCall, Supplier<NDArray> held) {
        int rounds = gflop > 60 ? 2 : 4;
        double[] best = new double[3];
        Arrays.fill(best, Double.MAX_VALUE);
        @SuppressWarnings("unchecked")
        Supplier<NDArray>[] variants = new Supplier[] {fp32, perCall, held};
        for (int round = -1; round < rounds; round++) { // round -1 warms up
            for (int i = 0; i < 3; i++) {
                long t = System.nanoTime();
                NDArray y = variants[i].get(); // CPU kernels run eagerly: complete here
                double seconds = (System.nanoTime() - t) / 1e9;
                y.close();
                if (round >= 0) {
                    best[i] = Math.min(best[i], seconds);
                }
            }
        }
        try (NDArray r = fp32.get();
                NDArray a = perCall.get();
                NDArray h = held.get()) {
            double[] errA = relError(a, r);
            double[] errH = relError(h, r);
            out.printf(
                    Locale.ROOT,
                    "%s, %.1f GFLOP:%n  fp32 %.1f ms (%.0f GFLOP/s); bf16 (a) cast per call %.1f ms = %.2fx,"
                            + " (b) held weight %.1f ms = %.2fx; error max %.1e mean %.1e (a), max %.1e mean %.1e (b)%n",
                    name,
                    gflop,
                    best[0] * 1e3,
                    gflop / best[0],
                    best[1] * 1e3,
                    best[0] / best[1],
                    best[2] * 1e3,
                    best[0] / best[2],
                    errA[0],
                    errA[1],
                    errH[0],
                    errH[1]);
        }
    }

    /** One forward in fp32 (after a warm-up forward), one with bf16 on (after its warm-up). */
    private Comparison unet(NDManager m) {
        UNet2DConditionConfig cfg = sd15 ? UNet2DConditionConfig.sd15() : UNet2DConditionConfig.tiny();
        MotionModuleConfig mm = sd15 ? MotionModuleConfig.v2() : MotionModuleConfig.tiny(true);
        UNet3DConditionModel unet = new UNet3DConditionModel(cfg, mm);
        FastInit.initialize(unet, m, 0);
        randomizeZeroed(unet, m);
        NDArray sample = m.randomNormal(new Shape(1, cfg.inChannels(), frames, latent, latent));
        NDArray t = m.create(500f);
        NDArray text = m.randomNormal(new Shape(1, 77, cfg.crossAttentionDim()));
        long resident = ResidentMemory.resident();
        out.printf(
                Locale.ROOT,
                "UNet-with-motion forward, %s + motion %s (%,d parameters), input (1, 4, %d, %d, %d), attention %s:%n",
                sd15 ? "SD1.5" : "tiny",
                mm.version(),
                unet.parameterCount(),
                frames,
                latent,
                latent,
                Ops.fusedAvailable() ? "fused" : "composed");
        Bfloat16.setEnabled(false);
        forward(unet, m, sample, t, text).close(); // warm-up
        long start = System.nanoTime();
        NDArray reference = forward(unet, m, sample, t, text);
        double fp32 = (System.nanoTime() - start) / 1e9;
        Bfloat16.setEnabled(true);
        start = System.nanoTime();
        forward(unet, m, sample, t, text).close(); // casts the weights once
        double first = (System.nanoTime() - start) / 1e9;
        long copies = ResidentMemory.resident() - resident;
        start = System.nanoTime();
        NDArray y = forward(unet, m, sample, t, text);
        double bf16 = (System.nanoTime() - start) / 1e9;
        Bfloat16.setEnabled(false);
        double[] err = relError(y, reference);
        Comparison c = new Comparison(fp32, bf16, err[0], err[1]);
        out.printf(
                Locale.ROOT,
                "  fp32 %.2f s, bf16 %.2f s: %.2fx (first bf16 forward, casting %d weights: %.2f s; resident set"
                        + " +%d MiB since the weights); output error max %.1e mean %.1e%n",
                fp32,
                bf16,
                c.speedup(),
                Bfloat16.cachedWeights(),
                first,
                copies / MIB,
                err[0],
                err[1]);
        reference.close();
        y.close();
        return c;
    }

    private static NDArray forward(UNet3DConditionModel unet, NDManager m, NDArray sample, NDArray t, NDArray text) {
        try (NDManager s = m.newSubManager()) {
            sample.tempAttach(s);
            t.tempAttach(s);
            text.tempAttach(s);
            NDArray y = unet.forward(sample, t, text); // (B, C, F, H, W)
            y.attach(m);
            return y;
        }
    }

    /**
     * Gives the zero-initialised weights (AnimateDiff's zero_module outputs) small random values, so
     * that the motion modules and the output convolution contribute to the output whose error is
     * measured.
     */
    private static void randomizeZeroed(UNet3DConditionModel unet, NDManager m) {
        for (Map.Entry<String, Param> e : unet.namedTensors().entrySet()) {
            Param p = e.getValue();
            if (!p.isBuffer() && p.init() == Param.Init.ZEROS && p.shape().dimension() >= 2) {
                float bound =
                        (float) (1 / Math.sqrt(p.shape().size() / p.shape().get(0)));
                p.set(m.randomUniform(-bound, bound, p.shape()));
            }
        }
    }

    /** {max|y - r| / max|r|, mean|y - r| / mean|r|}. */
    private static double[] relError(NDArray y, NDArray r) {
        try (NDManager s = r.getManager().newSubManager()) {
            NDArray d = y.sub(r).abs();
            NDArray a = r.abs();
            d.attach(s);
            a.attach(s);
            return new double[] {
                d.max().getFloat() / a.max().getFloat(),
                d.mean().getFloat() / a.mean().getFloat()
            };
        }
    }

    private static String cpuFlags() {
        try {
            String info = Files.readString(Path.of("/proc/cpuinfo"));
            StringBuilder flags = new StringBuilder();
            for (String flag : new String[] {"avx512_bf16", "amx_bf16", "avx512f", "avx2"}) {
                if (info.contains(" " + flag)) {
                    flags.append(flags.length() == 0 ? "" : " ").append(flag);
                }
            }
            return flags.length() == 0 ? "(none of avx2/avx512/bf16)" : flags.toString();
        } catch (IOException e) {
            return "unknown (no /proc/cpuinfo)";
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
