package io.animatediff.engine.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Measures how close {@link SafetensorsFile} loading gets to reading the file raw. Writes a ~1 GB
 * F32 safetensors file (256 tensors of 4 MB) to a temp dir, then alternates, three times each: a
 * raw read of the whole file (FileChannel.read into a preallocated direct buffer, so pure copy
 * speed) and our load of every tensor into FLOAT32 NDArrays (allocation included: the first round
 * also pays first-touch page faults of fresh array memory, later rounds reuse freed memory).
 * Prints MB/s per round, the first round's ratio and the best of each with their ratio (target
 * >= 50%). Both read the page cache, since the file was just written.
 *
 * <p>Run: {@code ./mvnw -q -pl engine -am package -DskipTests} then {@code java
 * -Dai.djl.offline=true -cp 'engine/target/classes:engine/target/lib/*'
 * io.animatediff.engine.weights.SafetensorsLoadBenchmark [sizeMB]}.
 */
public final class SafetensorsLoadBenchmark {
    private static final int TENSOR_FLOATS = 1 << 20;
    private static final int ROUNDS = 3;

    private SafetensorsLoadBenchmark() {}

    public static void main(String[] args) throws IOException {
        long sizeMb = args.length > 0 ? Long.parseLong(args[0]) : 1024;
        int tensors = (int) Math.max(1, sizeMb * (1 << 20) / (4L * TENSOR_FLOATS));
        Path dir = Files.createTempDirectory("safetensors-bench");
        Path file = dir.resolve("bench.safetensors");
        try (NDManager manager = NDManager.newBaseManager()) {
            // 1. write
            long t0 = System.nanoTime();
            try (NDManager scratch = manager.newSubManager()) {
                Map<String, NDArray> data = new LinkedHashMap<>();
                for (int i = 0; i < tensors; i++) {
                    data.put("block." + i + ".weight", scratch.randomNormal(new Shape(1024, TENSOR_FLOATS / 1024)));
                }
                SafetensorsWriter.write(file, data, Map.of("format", "pt"));
            }
            long bytes = Files.size(file);
            System.out.printf(
                    Locale.ROOT, "wrote %s: %.1f MB, %d tensors, in %.2f s%n", file, mb(bytes), tensors, secs(t0));

            // 2. alternate raw reads and loads
            ByteBuffer target = ByteBuffer.allocateDirect(Math.toIntExact(bytes));
            double[] raw = new double[ROUNDS];
            double[] ours = new double[ROUNDS];
            for (int round = 0; round < ROUNDS; round++) {
                raw[round] = rawRead(file, target, bytes);
                ours[round] = load(file, manager, bytes);
                System.out.printf(
                        Locale.ROOT,
                        "round %d: raw read %8.1f MB/s, our load %8.1f MB/s, ratio %3.0f%%%n",
                        round,
                        raw[round],
                        ours[round],
                        100 * ours[round] / raw[round]);
            }
            double bestRaw = Arrays.stream(raw).max().orElseThrow();
            double bestOurs = Arrays.stream(ours).max().orElseThrow();
            System.out.printf(Locale.ROOT, "first round ratio (fresh array memory): %.0f%%%n", 100 * ours[0] / raw[0]);
            System.out.printf(Locale.ROOT, "best raw read (FileChannel -> direct buffer): %8.1f MB/s%n", bestRaw);
            System.out.printf(Locale.ROOT, "best SafetensorsFile load -> F32 NDArrays:    %8.1f MB/s%n", bestOurs);
            System.out.printf(Locale.ROOT, "best ratio load/raw: %.0f%% (target >= 50%%)%n", 100 * bestOurs / bestRaw);
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Reads the whole file into a preallocated direct buffer (pure copy speed: no allocation). */
    private static double rawRead(Path file, ByteBuffer target, long bytes) throws IOException {
        target.clear();
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (target.hasRemaining() && ch.read(target) >= 0) {
                // keep reading
            }
        }
        double rate = mb(bytes) / secs(t0);
        if (target.position() != bytes) {
            throw new IllegalStateException("raw read got " + target.position() + " of " + bytes + " bytes");
        }
        return rate;
    }

    private static double load(Path file, NDManager manager, long bytes) throws IOException {
        long loaded = 0;
        long t0 = System.nanoTime();
        double rate;
        try (NDManager scope = manager.newSubManager();
                SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String key : f.keys()) {
                NDArray a = f.load(key, scope);
                loaded += a.size() * 4;
            }
            rate = mb(bytes) / secs(t0);
        }
        if (loaded + f32HeaderBytes(file) != bytes) {
            throw new IllegalStateException("loaded " + loaded + " tensor bytes from a " + bytes + "-byte file");
        }
        return rate;
    }

    private static long f32HeaderBytes(Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return f.dataStart();
        }
    }

    private static double mb(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }

    private static double secs(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }
}
