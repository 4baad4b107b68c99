package io.animatediff.engine.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.ops.OpObserver;
import io.animatediff.engine.ops.Ops;
import io.animatediff.engine.ops.ResidentMemory;
import io.animatediff.engine.pipeline.MemoryPlan;
import io.animatediff.engine.pipeline.NativeHeap;
import io.animatediff.engine.unet.UNet3DConditionModel;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * The memory plan against a measured UNet forward at SD1.5 widths (v2 motion module, random weights,
 * the process's attention mode): the prediction {@link MemoryPlan#predict} makes for the forward's
 * shape (its UNet phase plus the fixed cost) against the rise of the process's resident high-water
 * mark (VmHWM, reset before each forward through {@code /proc/self/clear_refs}) over the resident
 * set right before it, printed as a ratio. To show where the memory goes it also prints the resident
 * set of the idle process, after the weights, after each forward (what the allocator keeps), the
 * JVM's committed heap, and the largest resident set sampled after any op of the forward with the op
 * (so a peak inside one op shows as the difference to the high-water mark).
 *
 * <p>What a forward keeps resident after it returns is split into: freed blocks glibc malloc keeps in
 * its arenas, malloc memory still in use (libtorch/oneDNN caches), file-backed pages (libtorch's code
 * paged in), the JVM's committed heap and non-heap, and the rest; then {@link NativeHeap#trim} gives
 * the free blocks back and the resident set it freed is printed. The allocator and oneDNN settings
 * in the environment ({@code MALLOC_ARENA_MAX}, {@code MALLOC_TRIM_THRESHOLD_}, {@code
 * MALLOC_MMAP_THRESHOLD_}, {@code ONEDNN_PRIMITIVE_CACHE_CAPACITY}) are printed so runs can be
 * compared.
 *
 * <p>Run: {@code ./animatediff bench --memory-plan --latent 32 --frames 8} (Linux only).
 */
public final class MemoryPlanBenchmark {
    private static final long MIB = 1 << 20;

    /** One measured forward: the prediction, the measured rise, their ratio. */
    public record Result(long predictedBytes, long measuredBytes, double ratio) {}

    private final PrintStream out;
    private final int latent;
    private final int frames;
    private final boolean guidance;
    private final int forwards;
    private final boolean trim;
    private final int widthDivisor;

    /**
     * {@code latent} the latent side, {@code frames} the frames per UNet call, {@code guidance}
     * whether the batch is doubled as with classifier-free guidance, {@code forwards} how many
     * forwards to measure (the first one also pays for one-time allocations), {@code trim} whether
     * {@link NativeHeap#trim} runs after each forward (as the worker does after a job), {@code
     * widthDivisor} divides SD1.5's channel widths (1: SD1.5 itself, 5 GB of weights; 2: a quarter of
     * the weights, for a run beside other work).
     */
    public MemoryPlanBenchmark(
            PrintStream out, int latent, int frames, boolean guidance, int forwards, boolean trim, int widthDivisor) {
        if (latent < 1 || frames < 1 || forwards < 1) {
            throw new IllegalArgumentException("memory plan benchmark: latent " + latent + ", frames " + frames
                    + ", forwards " + forwards + " must all be >= 1");
        }
        if (widthDivisor != 1 && widthDivisor != 2) {
            throw new IllegalArgumentException("memory plan benchmark: width divisor " + widthDivisor
                    + " is not supported: use 1 (SD1.5 widths) or 2 (channels stay multiples of 32 groups)");
        }
        this.out = out;
        this.latent = latent;
        this.frames = frames;
        this.guidance = guidance;
        this.forwards = forwards;
        this.trim = trim;
        this.widthDivisor = widthDivisor;
    }

    /** Runs the forwards, printing as it goes; returns the last forward's result. */
    public Result run() {
        UNet2DConditionConfig cfg = narrowed(UNet2DConditionConfig.sd15(), widthDivisor);
        MotionModuleConfig mm = MotionModuleConfig.v2();
        MemoryPlan.Job job = new MemoryPlan.Job(
                latent * 8,
                latent * 8,
                frames,
                frames,
                guidance,
                false,
                cfg,
                mm,
                AutoencoderKLConfig.sd15(),
                Ops.fusedAvailable(),
                Ops.attentionBudget(),
                1,
                64,
                4);
        MemoryPlan.Estimate estimate = MemoryPlan.predict(job);
        long predicted = estimate.unetBytes() + estimate.retainedBytes() + MemoryPlan.FIXED_BYTES;
        int batch = guidance ? 2 : 1;
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            m.zeros(new Shape(1)).close(); // libtorch loaded
            long idle = ResidentMemory.resident();
            if (idle < 0) {
                throw new IllegalStateException("memory plan benchmark: needs Linux /proc/self/status");
            }
            UNet3DConditionModel unet = new UNet3DConditionModel(cfg, mm);
            FastInit.initialize(unet, m, 0);
            long weights = ResidentMemory.resident();
            out.printf(
                    Locale.ROOT,
                    "memory plan benchmark: SD1.5 (widths / %d) + motion %s (%,d parameters, %d MiB fp32), input (%d, 4, %d, %d, %d),"
                            + " attention %s (budget %d MiB), torch threads %s%n",
                    widthDivisor,
                    mm.version(),
                    unet.parameterCount(),
                    unet.parameterCount() * 4 / MIB,
                    batch,
                    frames,
                    latent,
                    latent,
                    Ops.fusedAvailable() ? "fused" : "composed",
                    Ops.attentionBudget() / MIB,
                    System.getProperty("ai.djl.pytorch.num_threads", "default"));
            out.printf(
                    Locale.ROOT,
                    "  environment: MALLOC_ARENA_MAX=%s MALLOC_TRIM_THRESHOLD_=%s MALLOC_MMAP_THRESHOLD_=%s"
                            + " ONEDNN_PRIMITIVE_CACHE_CAPACITY=%s LD_PRELOAD=%s; glibc heap statistics %s; trim"
                            + " after each forward %s%n",
                    env("MALLOC_ARENA_MAX"),
                    env("MALLOC_TRIM_THRESHOLD_"),
                    env("MALLOC_MMAP_THRESHOLD_"),
                    env("ONEDNN_PRIMITIVE_CACHE_CAPACITY"),
                    env("LD_PRELOAD"),
                    NativeHeap.available() ? "available" : "unavailable",
                    trim);
            out.printf(
                    Locale.ROOT,
                    "  resident: idle with libtorch %d MiB, with weights %d MiB (+%d); JVM heap committed %d MiB%n",
                    idle / MIB,
                    weights / MIB,
                    (weights - idle) / MIB,
                    Runtime.getRuntime().totalMemory() / MIB);
            out.printf(
                    Locale.ROOT,
                    "  predicted for %dx%d, %d frames, CFG %s: UNet forward %d MiB + freed blocks malloc keeps %d"
                            + " MiB + fixed %d MiB = %d MiB (without what malloc keeps: %d MiB)%n",
                    latent * 8,
                    latent * 8,
                    frames,
                    guidance,
                    estimate.unetBytes() / MIB,
                    estimate.retainedBytes() / MIB,
                    MemoryPlan.FIXED_BYTES / MIB,
                    predicted / MIB,
                    (predicted - estimate.retainedBytes()) / MIB);
            NDArray sample = m.randomNormal(new Shape(batch, cfg.inChannels(), frames, latent, latent));
            NDArray t = m.create(500f);
            NDArray text = m.randomNormal(new Shape(batch, 77, cfg.crossAttentionDim()));
            Result result = null;
            for (int i = 1; i <= forwards; i++) {
                result = forward(i, unet, m, sample, t, text, predicted);
            }
            return result;
        }
    }

    private Result forward(
            int index,
            UNet3DConditionModel unet,
            NDManager m,
            NDArray sample,
            NDArray t,
            NDArray text,
            long predicted) {
        Sampler sampler = new Sampler();
        Split splitBefore = Split.now();
        long before = ResidentMemory.resetPeak();
        long heapBefore = Runtime.getRuntime().totalMemory();
        long start = System.nanoTime();
        Ops.setObserver(sampler);
        try (NDManager s = m.newSubManager()) {
            sample.tempAttach(s);
            t.tempAttach(s);
            text.tempAttach(s);
            unet.forward(sample, t, text).attach(s);
        } finally {
            Ops.setObserver(null);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long peak = ResidentMemory.peakResident();
        long after = ResidentMemory.resident();
        Split splitAfter = Split.now();
        long measured = peak - before;
        double ratio = predicted / (double) measured;
        out.printf(
                Locale.ROOT,
                "  forward %d (%.1f s): resident before %d MiB, peak %d MiB, after %d MiB (kept +%d);"
                        + " largest after an op %d MiB (after op %d of %d, %s); JVM heap committed %+d MiB%n",
                index,
                seconds,
                before / MIB,
                peak / MIB,
                after / MIB,
                (after - before) / MIB,
                sampler.max / MIB,
                sampler.maxAt,
                sampler.ops,
                sampler.maxKind,
                (Runtime.getRuntime().totalMemory() - heapBefore) / MIB);
        if (sampler.heapAtMax != null) {
            out.printf(
                    Locale.ROOT,
                    "  forward %d at the largest sampled resident set: %s%n",
                    index,
                    sampler.heapAtMax.describe());
        }
        out.printf(Locale.ROOT, "  forward %d kept %s%n", index, splitAfter.minus(splitBefore));
        if (trim) {
            long freed = NativeHeap.trim();
            out.printf(
                    Locale.ROOT,
                    "  forward %d: malloc_trim(0) freed %d MiB of resident set: %d MiB -> %d MiB (%+d MiB vs"
                            + " before the forward); %s%n",
                    index,
                    freed / MIB,
                    (after) / MIB,
                    ResidentMemory.resident() / MIB,
                    (ResidentMemory.resident() - before) / MIB,
                    NativeHeap.available() ? NativeHeap.stats().describe() : "no heap statistics");
        }
        out.printf(
                Locale.ROOT,
                "  forward %d: predicted %d MiB vs measured peak rise %d MiB: ratio %.2f (predicted/measured)%n",
                index,
                predicted / MIB,
                measured / MIB,
                ratio);
        return new Result(predicted, measured, ratio);
    }

    /** {@code c} with its block widths divided by {@code divisor}. */
    private static UNet2DConditionConfig narrowed(UNet2DConditionConfig c, int divisor) {
        if (divisor == 1) {
            return c;
        }
        return new UNet2DConditionConfig(
                c.inChannels(),
                c.outChannels(),
                c.blockOutChannels().stream().map(w -> w / divisor).toList(),
                c.downBlockTypes(),
                c.upBlockTypes(),
                c.layersPerBlock(),
                c.crossAttentionDim(),
                c.attentionHeadDim(),
                c.numAttentionHeads(),
                c.normNumGroups(),
                c.normEps(),
                c.flipSinToCos(),
                c.freqShift(),
                c.useLinearProjection(),
                c.transformerLayersPerBlock(),
                c.actFn(),
                c.sampleSize());
    }

    private static String env(String name) {
        String v = System.getenv(name);
        return v == null ? "unset" : v;
    }

    /** Where the resident set is at one moment: glibc's heap, page kinds, the JVM's memory pools. */
    private record Split(
            long resident,
            NativeHeap.Resident pages,
            NativeHeap.Stats heap,
            long jvmHeapCommitted,
            long jvmNonHeapCommitted) {
        static Split now() {
            var memory = ManagementFactory.getMemoryMXBean();
            return new Split(
                    ResidentMemory.resident(),
                    NativeHeap.resident(),
                    NativeHeap.stats(),
                    memory.getHeapMemoryUsage().getCommitted(),
                    memory.getNonHeapMemoryUsage().getCommitted());
        }

        /**
         * The growth from {@code earlier} to this, split by where it went, in MiB: malloc memory in
         * use (live tensors, libtorch/oneDNN caches), file-backed pages (libtorch's code paged in), the
         * JVM's committed heap and non-heap, and the rest of the anonymous pages: freed blocks malloc
         * keeps resident (its free-bytes statistic counts free blocks whether resident or trimmed).
         */
        String minus(Split earlier) {
            long total = resident - earlier.resident;
            long free = heap == null ? 0 : heap.freeBytes() - earlier.heap.freeBytes();
            long inUse = heap == null ? 0 : heap.inUseBytes() - earlier.heap.inUseBytes();
            long file = pages.fileBytes() - earlier.pages.fileBytes();
            long anon = pages.anonBytes() - earlier.pages.anonBytes();
            long jvmHeap = jvmHeapCommitted - earlier.jvmHeapCommitted;
            long jvmNonHeap = jvmNonHeapCommitted - earlier.jvmNonHeapCommitted;
            return String.format(
                    Locale.ROOT,
                    "%+d MiB resident = freed blocks malloc keeps resident %+d + malloc in use %+d + file-backed"
                            + " pages %+d + JVM heap committed %+d + JVM non-heap committed %+d + shared %+d"
                            + " (malloc's free bytes %+d)",
                    total / MIB,
                    (anon - inUse - jvmHeap - jvmNonHeap) / MIB,
                    inUse / MIB,
                    file / MIB,
                    jvmHeap / MIB,
                    jvmNonHeap / MIB,
                    (pages.shmemBytes() - earlier.pages.shmemBytes()) / MIB,
                    free / MIB);
        }
    }

    /** Samples the resident set after every op (and glibc's heap at the largest one). */
    private static final class Sampler implements OpObserver {
        long max;
        int maxAt;
        int ops;
        Kind maxKind;
        NativeHeap.Stats heapAtMax;

        @Override
        public void record(Kind kind, long flops, long nanos) {
            ops++;
            long rss = ResidentMemory.resident();
            if (rss > max) {
                max = rss;
                maxAt = ops;
                maxKind = kind;
                heapAtMax = NativeHeap.stats();
            }
        }
    }
}
