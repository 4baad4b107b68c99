package io.animatediff.engine.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code .ckpt} archives built to attack a loader that extracts or inflates blindly: a zip bomb
 * (a data.pkl that inflates past the pickle cap) and path-traversal record names. Each is refused
 * with a clear error, in bounded time and memory, and nothing is ever written next to or outside
 * the archive (the loader reads records by name and never extracts).
 */
class CheckpointArchiveAttackTest {
    @TempDir
    Path dir;

    @Test
    void zipBombPickleIsRefusedAtTheCap() throws IOException {
        Path file = dir.resolve("bomb.ckpt");
        long inflated = TorchCheckpoint.MAX_PICKLE_BYTES + (1 << 20);
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
            zip.setLevel(9);
            zip.putNextEntry(new ZipEntry("archive/data.pkl"));
            byte[] zeros = new byte[1 << 20];
            for (long w = 0; w < inflated; w += zeros.length) {
                zip.write(zeros);
            }
            zip.closeEntry();
        }
        assertTrue(Files.size(file) < inflated / 100, "a bomb: " + Files.size(file) + " bytes compressed");
        long t0 = System.nanoTime();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(file));
        assertTrue(e.getMessage().contains("over the cap of " + TorchCheckpoint.MAX_PICKLE_BYTES), e.getMessage());
        assertTrue(e.getMessage().contains("archive/data.pkl"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "refusing the bomb took too long");
        assertOnlyArchiveIn(dir, file);
    }

    @Test
    void pathTraversalRecordNamesAreRefusedAndNothingIsWritten() throws Exception {
        Path outside = dir.resolve("outside");
        Files.createDirectories(outside);
        Path marker = outside.resolve("pwned");
        byte[] pickle = new PickleBytes().proto(2).op('}').stop().bytes(); // an empty dict
        List<String> prefixes = List.of(
                "../../" + outside.getFileName() + "/",
                "/" + outside.toAbsolutePath().toString().substring(1) + "/",
                "..\\..\\x\\",
                "archive/../../");
        for (String prefix : prefixes) {
            Path file = dir.resolve("traversal-" + Math.abs(prefix.hashCode()) + ".ckpt");
            try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
                for (String name : List.of(prefix + "data.pkl", prefix + "pwned", prefix + "data/0")) {
                    zip.putNextEntry(new ZipEntry(name));
                    zip.write(name.endsWith("data.pkl") ? pickle : new byte[] {1, 2, 3, 4});
                    zip.closeEntry();
                }
            }
            // refused (no torch.save layout) or read without effect: either way nothing is extracted
            try (TensorSource s = TensorSources.open(file)) {
                assertEquals(0, s.keys().size(), prefix + ": an empty state dict");
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage().startsWith("invalid torch checkpoint " + file), e.getMessage());
            }
            assertFalse(Files.exists(marker), prefix + ": a record was extracted outside the archive");
        }
        try (Stream<Path> files = Files.list(outside)) {
            assertEquals(0, files.count(), "files appeared in " + outside);
        }
    }

    private static void assertOnlyArchiveIn(Path dir, Path archive) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(archive), files.toList());
        }
    }
}
