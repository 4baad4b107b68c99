package io.animatediff.engine.ops;

import static io.animatediff.engine.ops.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class OpsTest {
    private static final double ATOL = 1e-5;
    private static final double RTOL = 1e-4;

    private static NDManager manager;

    @BeforeAll
    static void setUp() {
        Engine.getEngine("PyTorch").setRandomSeed(1234);
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    @AfterEach
    void resetSwitches() {
        Ops.setMode(null);
        Ops.setAttentionBudget(null);
        System.clearProperty(Ops.MODE_PROPERTY);
        System.clearProperty(Ops.BUDGET_PROPERTY);
    }

    /** On the platforms the engine ships for, the fused kernels must load: a silent fallback is a bug. */
    @Test
    void fusedKernelsLoadOnThisPlatform() {
        boolean shipped = System.getProperty("os.name").toLowerCase().contains("linux")
                && System.getProperty("os.arch").matches("amd64|x86_64");
        assumeTrue(shipped, "fused kernels are only required on linux-x86_64");
        assertTrue(Ops.fusedAvailable());
        Ops.setMode(Ops.Mode.COMPOSED);
        assertFalse(Ops.fusedAvailable());
    }

    @Test
    void attentionFusedEqualsComposed3d() {
        NDArray q = manager.randomNormal(new Shape(6, 37, 16)); // (B N, S, D)
        NDArray k = manager.randomNormal(new Shape(6, 37, 16));
        NDArray v = manager.randomNormal(new Shape(6, 37, 16));
        compareAttention(q, k, v, "3-D self-attention");
    }

    @Test
    void attentionFusedEqualsComposed4dCross() {
        NDArray q = manager.randomNormal(new Shape(2, 4, 50, 40)); // (B, N, S, D)
        NDArray k = manager.randomNormal(new Shape(2, 4, 77, 40)); // (B, N, Sk, D)
        NDArray v = manager.randomNormal(new Shape(2, 4, 77, 40));
        compareAttention(q, k, v, "4-D cross-attention");
    }

    @Test
    void attentionFusedEqualsComposedOnPermutedViewsAndOtherRanks() {
        NDArray qb = manager.randomNormal(new Shape(2, 30, 4, 8)); // (B, S, N, D)
        NDArray q = qb.transpose(0, 2, 1, 3); // (B, N, S, D), non-contiguous
        NDArray k = manager.randomNormal(new Shape(2, 4, 12, 8));
        NDArray v = manager.randomNormal(new Shape(2, 4, 12, 8));
        compareAttention(q, k, v, "4-D permuted query");
        NDArray q5 = manager.randomNormal(new Shape(2, 2, 3, 9, 8)); // (B, F, N, S, D)
        NDArray k5 = manager.randomNormal(new Shape(2, 2, 3, 5, 8));
        NDArray v5 = manager.randomNormal(new Shape(2, 2, 3, 5, 8));
        compareAttention(q5, k5, v5, "5-D");
        NDArray q2 = manager.randomNormal(new Shape(9, 8)); // (S, D)
        compareAttention(q2, manager.randomNormal(new Shape(5, 8)), manager.randomNormal(new Shape(5, 8)), "2-D");
    }

    @Test
    void chunkedAttentionEqualsUnchunked() {
        NDArray q = manager.randomNormal(new Shape(3, 101, 16));
        NDArray k = manager.randomNormal(new Shape(3, 64, 16));
        NDArray v = manager.randomNormal(new Shape(3, 64, 16));
        NDArray whole = ComposedOps.attention(q, k, v, Long.MAX_VALUE);
        long bytesPerRow = 2L * 3 * 64 * 4;
        assertEquals(7, ComposedOps.chunkRows(q.getShape(), k.getShape(), 4, 7 * bytesPerRow + 5));
        NDArray chunked = ComposedOps.attention(q, k, v, 7 * bytesPerRow); // 15 chunks, the last of 3 rows
        assertClose(chunked, whole, 1e-6, 1e-6, "7-row chunks");
        NDArray single = ComposedOps.attention(q, k, v, 1); // budget below one row: one row at a time
        assertClose(single, whole, 1e-6, 1e-6, "1-row chunks");
    }

    @Test
    void budgetIsReadFromPropertyAndSetter() {
        assertEquals(Ops.DEFAULT_ATTENTION_BUDGET, Ops.attentionBudget());
        System.setProperty(Ops.BUDGET_PROPERTY, "1048576");
        assertEquals(1L << 20, Ops.attentionBudget());
        Ops.setAttentionBudget(4096L);
        assertEquals(4096L, Ops.attentionBudget());
        System.setProperty(Ops.BUDGET_PROPERTY, "lots");
        Ops.setAttentionBudget(null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Ops::attentionBudget);
        assertTrue(e.getMessage().contains(Ops.BUDGET_PROPERTY), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Ops.setAttentionBudget(0L));
    }

    @Test
    void modeIsReadFromPropertyAndSetter() {
        assertEquals(Ops.Mode.FUSED, Ops.mode());
        System.setProperty(Ops.MODE_PROPERTY, "composed");
        assertEquals(Ops.Mode.COMPOSED, Ops.mode());
        Ops.setMode(Ops.Mode.FUSED);
        assertEquals(Ops.Mode.FUSED, Ops.mode());
        Ops.setMode(null);
        System.setProperty(Ops.MODE_PROPERTY, "turbo");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Ops::mode);
        assertTrue(e.getMessage().contains("fused or composed"), e.getMessage());
    }

    @Test
    void composedAttentionRespectsBudgetSetting() {
        NDArray q = manager.randomNormal(new Shape(2, 40, 8));
        NDArray k = manager.randomNormal(new Shape(2, 40, 8));
        NDArray v = manager.randomNormal(new Shape(2, 40, 8));
        Ops.setMode(Ops.Mode.COMPOSED);
        NDArray whole = Ops.attention(q, k, v);
        Ops.setAttentionBudget(2L * 2 * 40 * 4 * 3); // 3 rows per chunk
        assertClose(Ops.attention(q, k, v), whole, 1e-6, 1e-6, "budgeted composed attention");
    }

    @Test
    void groupNormFusedEqualsComposedOn3d4d5d() {
        compareGroupNorm(new Shape(2, 64, 50), 32, "3-D (N, C, S)");
        compareGroupNorm(new Shape(2, 64, 9, 7), 32, "4-D (N, C, H, W)");
        compareGroupNorm(new Shape(2, 64, 3, 5, 6), 16, "5-D (N, C, F, H, W)");
        compareGroupNorm(new Shape(3, 8), 4, "2-D (N, C)");
    }

    @Test
    void groupNormMatchesItsDefinition() {
        // One group of two channels over three positions: mean 2.5, biased variance 11/12.
        NDArray x = manager.create(new float[] {1, 2, 3, 4, 2, 3}, new Shape(1, 2, 3));
        NDArray w = manager.create(new float[] {2, -1});
        NDArray b = manager.create(new float[] {0.5f, 1});
        double std = Math.sqrt(11.0 / 12 + 1e-5);
        float[] expected = new float[6];
        float[] xs = {1, 2, 3, 4, 2, 3};
        for (int i = 0; i < 6; i++) {
            int c = i / 3;
            expected[i] = (float) ((xs[i] - 2.5) / std * (c == 0 ? 2 : -1) + (c == 0 ? 0.5 : 1));
        }
        NDArray want = manager.create(expected, new Shape(1, 2, 3));
        assertClose(Ops.groupNorm(x, 1, w, b, 1e-5), want, 1e-6, 1e-6, "fused group norm");
        Ops.setMode(Ops.Mode.COMPOSED);
        assertClose(Ops.groupNorm(x, 1, w, b, 1e-5), want, 1e-6, 1e-6, "composed group norm");
    }

    @Test
    void groupNormRefusesIndivisibleChannels() {
        NDArray x = manager.randomNormal(new Shape(1, 6, 4));
        NDArray w = manager.ones(new Shape(6));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Ops.groupNorm(x, 4, w, w, 1e-5));
        assertTrue(e.getMessage().contains("4 groups"), e.getMessage());
    }

    @Test
    void siluFusedEqualsComposed() {
        NDArray x = manager.randomNormal(new Shape(2, 16, 5, 5)).mul(3);
        NDArray fused = Ops.silu(x);
        Ops.setMode(Ops.Mode.COMPOSED);
        assertClose(fused, Ops.silu(x), 1e-6, 1e-6, "silu");
    }

    @Test
    void attentionGradientsFusedEqualComposed() {
        NDArray q = manager.randomNormal(new Shape(2, 3, 24, 8));
        NDArray k = manager.randomNormal(new Shape(2, 3, 17, 8));
        NDArray v = manager.randomNormal(new Shape(2, 3, 17, 8));
        NDArray r = manager.randomNormal(new Shape(2, 3, 24, 8)); // loss = sum(out * r)
        NDArray[] fused = attentionGradients(q, k, v, r);
        Ops.setMode(Ops.Mode.COMPOSED);
        NDArray[] composed = attentionGradients(q, k, v, r);
        Ops.setAttentionBudget(2L * 6 * 17 * 4 * 5); // 5-row chunks
        NDArray[] chunked = attentionGradients(q, k, v, r);
        String[] names = {"dq", "dk", "dv"};
        for (int i = 0; i < 3; i++) {
            assertClose(fused[i], composed[i], ATOL, RTOL, "fused attention " + names[i]);
            assertClose(chunked[i], composed[i], 1e-6, 1e-5, "chunked attention " + names[i]);
        }
    }

    @Test
    void groupNormGradientsFusedEqualComposed() {
        NDArray x = manager.randomNormal(new Shape(2, 32, 3, 4, 4)); // (N, C, F, H, W)
        NDArray w = manager.randomNormal(new Shape(32));
        NDArray b = manager.randomNormal(new Shape(32));
        NDArray r = manager.randomNormal(x.getShape());
        NDArray[] fused = groupNormGradients(x, w, b, r);
        Ops.setMode(Ops.Mode.COMPOSED);
        NDArray[] composed = groupNormGradients(x, w, b, r);
        String[] names = {"dx", "dweight", "dbias"};
        for (int i = 0; i < 3; i++) {
            assertClose(fused[i], composed[i], 1e-4, 1e-4, "group norm " + names[i]);
        }
    }

    /**
     * A temporal transformer hands the next GroupNorm a channels-last view ((B F), C, H, W) built by
     * transposing ((B F), H, W, C), and a frozen input needs no gradient of its own: libtorch 2.7.1's
     * fused backward for that case read out of bounds and crashed the process.
     */
    @Test
    void groupNormWeightGradientsOfAChannelsLastInputEqualComposed() {
        NDArray nhwc = manager.randomNormal(new Shape(16, 4, 4, 32)); // (N, H, W, C)
        NDArray w = manager.randomNormal(new Shape(32));
        NDArray b = manager.randomNormal(new Shape(32));
        NDArray r = manager.randomNormal(new Shape(16, 32, 4, 4));
        NDArray[] fused = channelsLastGroupNormGradients(nhwc, w, b, r);
        Ops.setMode(Ops.Mode.COMPOSED);
        NDArray[] composed = channelsLastGroupNormGradients(nhwc, w, b, r);
        assertClose(fused[0], composed[0], 1e-4, 1e-4, "channels-last group norm dweight");
        assertClose(fused[1], composed[1], 1e-4, 1e-4, "channels-last group norm dbias");
    }

    private static NDArray[] channelsLastGroupNormGradients(NDArray nhwc, NDArray w0, NDArray b0, NDArray r) {
        NDArray w = w0.duplicate();
        NDArray b = b0.duplicate();
        w.setRequiresGradient(true);
        b.setRequiresGradient(true);
        try (GradientCollector collector = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray x = nhwc.transpose(0, 3, 1, 2); // (N, C, H, W) with channels-last strides
            collector.backward(Ops.groupNorm(x, 8, w, b, 1e-6).mul(r).sum());
        }
        return new NDArray[] {w.getGradient(), b.getGradient()};
    }

    /** A capped manager refuses any new array: every op must leave the weights' manager alone. */
    @Test
    void noArrayIsCreatedOnTheWeightManager() {
        for (Ops.Mode mode : Ops.Mode.values()) {
            Ops.setMode(mode);
            try (NDManager weights = NDManager.newBaseManager("PyTorch");
                    NDManager context = NDManager.newBaseManager("PyTorch");
                    NDManager step = NDManager.newBaseManager("PyTorch")) {
                NDArray gnW = weights.randomNormal(new Shape(16));
                NDArray gnB = weights.randomNormal(new Shape(16));
                NDArray linW = weights.randomNormal(new Shape(8, 16));
                NDArray linB = weights.randomNormal(new Shape(8));
                NDArray convW = weights.randomNormal(new Shape(4, 16, 3, 3));
                NDArray convB = weights.randomNormal(new Shape(4));
                NDArray lnW = weights.randomNormal(new Shape(16));
                NDArray k = context.randomNormal(new Shape(2, 7, 8)); // cross-attention keys, long-lived
                NDArray v = context.randomNormal(new Shape(2, 7, 8));
                int weightArrays = weights.getManagedArrays().size();
                int contextArrays = context.getManagedArrays().size();
                weights.cap();
                context.cap();

                NDArray x = step.randomNormal(new Shape(2, 16, 6, 6));
                NDArray h = Ops.groupNorm(x, 4, gnW, gnB, 1e-5);
                h = Ops.silu(h);
                h = Ops.conv2d(h, convW, convB, 1, 1);
                NDArray t = step.randomNormal(new Shape(2, 5, 16));
                t = Ops.layerNorm(t, lnW, gnB, 1e-5);
                t = Ops.gelu(Ops.linear(t, linW, linB)); // (2, 5, 8)
                NDArray a = Ops.attention(t, k, v);
                NDArray selfAttention = Ops.attention(t, t, t);
                for (NDArray out : new NDArray[] {h, t, a, selfAttention}) {
                    assertTrue(out.getManager() == step, mode + ": result on the input's manager");
                }
                assertEquals(weightArrays, weights.getManagedArrays().size(), mode + ": weight manager");
                assertEquals(contextArrays, context.getManagedArrays().size(), mode + ": context manager");
            }
        }
    }

    /** Per-step child managers: after each closes, nothing is left on the parent or the weights' manager. */
    @Test
    void repeatedStepsInClosedChildManagersDoNotGrowMemory() throws IOException {
        for (Ops.Mode mode : Ops.Mode.values()) {
            Ops.setMode(mode);
            try (NDManager weights = NDManager.newBaseManager("PyTorch");
                    NDManager parent = NDManager.newBaseManager("PyTorch")) {
                NDArray w = weights.randomNormal(new Shape(64));
                NDArray b = weights.randomNormal(new Shape(64));
                int weightArrays = weights.getManagedArrays().size();
                Supplier<Long> rss = OpsTest::residentBytes;
                runSteps(parent, w, b, 5); // warm the allocator
                long before = rss.get();
                runSteps(parent, w, b, 60);
                long grown = rss.get() - before;
                assertEquals(0, parent.getManagedArrays().size(), mode + ": arrays left on the parent");
                assertEquals(weightArrays, weights.getManagedArrays().size(), mode + ": weight manager");
                // Steps allocate 4 MB arrays (x, its norm, silu). Measured here: +0..16 MB over the 60 steps,
                // +68..78 MB when the kernel's input IValues are not closed.
                assertTrue(grown < (40L << 20), mode + ": resident memory grew " + (grown >> 20) + " MB over 60 steps");
            }
        }
    }

    /** One module serves all threads: concurrent calls give each thread its own exact results. */
    @Test
    void fusedKernelsServeConcurrentThreads() throws Exception {
        int threads = 3;
        NDArray[] inputs = new NDArray[threads];
        NDArray[] expected = new NDArray[threads];
        for (int t = 0; t < threads; t++) {
            inputs[t] = manager.randomNormal(new Shape(2, 2, 20 + 7 * t, 8));
            expected[t] = Ops.attention(inputs[t], inputs[t], inputs[t]);
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            java.util.List<java.util.concurrent.Future<Double>> worst = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                worst.add(pool.submit(() -> {
                    double max = 0;
                    for (int i = 0; i < 40; i++) {
                        try (NDManager step = manager.newSubManager()) {
                            NDArray q = inputs[id];
                            NDArray out = Ops.attention(q, q, q);
                            out.attach(step);
                            max = Math.max(max, Close.maxAbsDiff(out, expected[id]));
                        }
                    }
                    return max;
                }));
            }
            for (java.util.concurrent.Future<Double> f : worst) {
                assertEquals(0.0, f.get(), "concurrent results differ from the single-threaded ones");
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void failingKernelLoadFallsBackWithoutThrowing() {
        assertTrue(FusedKernels.loadOrWarn(() -> {
                    throw new UnsatisfiedLinkError("no libtorch for this platform");
                })
                .isEmpty());
    }

    private static void runSteps(NDManager parent, NDArray w, NDArray b, int steps) {
        for (int i = 0; i < steps; i++) {
            try (NDManager step = parent.newSubManager()) {
                NDArray x = step.randomNormal(new Shape(2, 64, 16, 16)); // (N, C, H, W)
                NDArray h = Ops.silu(Ops.groupNorm(x, 32, w, b, 1e-5));
                NDArray q = h.reshape(2, 64, 256)
                        .swapAxes(1, 2)
                        .reshape(2, 256, 8, 8)
                        .transpose(0, 2, 1, 3);
                Ops.attention(q, q, q); // (B, N, S, D)
            }
        }
    }

    private static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException e) {
            // not Linux: only the manager counts are checked
        }
        return 0;
    }

    private void compareAttention(NDArray q, NDArray k, NDArray v, String what) {
        Ops.setMode(Ops.Mode.FUSED);
        NDArray fused = Ops.attention(q, k, v);
        Ops.setMode(Ops.Mode.COMPOSED);
        NDArray composed = Ops.attention(q, k, v);
        Ops.setMode(null);
        assertClose(fused, composed, ATOL, RTOL, what);
    }

    private void compareGroupNorm(Shape shape, int groups, String what) {
        NDArray x = manager.randomNormal(shape).mul(2).add(0.5);
        NDArray w = manager.randomNormal(new Shape(shape.get(1)));
        NDArray b = manager.randomNormal(new Shape(shape.get(1)));
        Ops.setMode(Ops.Mode.FUSED);
        NDArray fused = Ops.groupNorm(x, groups, w, b, 1e-5);
        Ops.setMode(Ops.Mode.COMPOSED);
        NDArray composed = Ops.groupNorm(x, groups, w, b, 1e-5);
        Ops.setMode(null);
        assertClose(fused, composed, ATOL, RTOL, what);
    }

    private static NDArray[] attentionGradients(NDArray q0, NDArray k0, NDArray v0, NDArray r) {
        NDArray q = q0.duplicate();
        NDArray k = k0.duplicate();
        NDArray v = v0.duplicate();
        q.setRequiresGradient(true);
        k.setRequiresGradient(true);
        v.setRequiresGradient(true);
        try (GradientCollector collector = Engine.getEngine("PyTorch").newGradientCollector()) {
            collector.backward(Ops.attention(q, k, v).mul(r).sum());
        }
        return new NDArray[] {q.getGradient(), k.getGradient(), v.getGradient()};
    }

    private static NDArray[] groupNormGradients(NDArray x0, NDArray w0, NDArray b0, NDArray r) {
        NDArray x = x0.duplicate();
        NDArray w = w0.duplicate();
        NDArray b = b0.duplicate();
        x.setRequiresGradient(true);
        w.setRequiresGradient(true);
        b.setRequiresGradient(true);
        try (GradientCollector collector = Engine.getEngine("PyTorch").newGradientCollector()) {
            collector.backward(Ops.groupNorm(x, 8, w, b, 1e-5).mul(r).sum());
        }
        return new NDArray[] {x.getGradient(), w.getGradient(), b.getGradient()};
    }
}
