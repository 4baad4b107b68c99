package io.animatediff.engine.pipeline;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Structure;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The C library's heap (glibc malloc), which libtorch's CPU allocator uses for every tensor: its
 * statistics ({@code mallinfo2}), the resident set split into anonymous and file-backed pages
 * ({@code /proc/self/status}), and {@link #trim}, which gives the freed blocks malloc keeps back to
 * the system ({@code malloc_trim(0)}). Reached through JNA; on other platforms or C libraries every
 * figure is -1 and {@link #trim} does nothing.
 */
public final class NativeHeap {
    private static final Libc LIBC = load();

    /** The C library's functions used here. */
    public interface Libc extends Library {
        /** Returns freed memory at the top of every arena and in whole free pages; 1 if any was released. */
        int malloc_trim(long pad);

        /** The heap's statistics summed over all arenas (glibc >= 2.33). */
        Mallinfo2.ByValue mallinfo2();
    }

    /** glibc's {@code struct mallinfo2}: ten {@code size_t} fields, in bytes or counts. */
    @Structure.FieldOrder({
        "arena",
        "ordblks",
        "smblks",
        "hblks",
        "hblkhd",
        "usmblks",
        "fsmblks",
        "uordblks",
        "fordblks",
        "keepcost"
    })
    public static class Mallinfo2 extends Structure {
        public long arena;
        public long ordblks;
        public long smblks;
        public long hblks;
        public long hblkhd;
        public long usmblks;
        public long fsmblks;
        public long uordblks;
        public long fordblks;
        public long keepcost;

        /** The struct returned by value. */
        public static class ByValue extends Mallinfo2 implements Structure.ByValue {}
    }

    /**
     * The heap at one moment, bytes: {@code arenaBytes} obtained from the system through brk/arenas,
     * {@code mmappedBytes} in blocks mmapped on their own (returned on free), {@code inUseBytes}
     * allocated and not freed (arena + mmapped), {@code freeBytes} freed but kept in the arenas.
     */
    public record Stats(long arenaBytes, long mmappedBytes, long inUseBytes, long freeBytes) {
        /** One line in MiB. */
        public String describe() {
            return String.format(
                    Locale.ROOT,
                    "malloc in use %d MiB (%d mmapped), free kept in arenas %d MiB (arenas %d MiB)",
                    inUseBytes >> 20,
                    mmappedBytes >> 20,
                    freeBytes >> 20,
                    arenaBytes >> 20);
        }
    }

    /** The resident set by kind, bytes: anonymous (heap, mmaps), file-backed (code, mapped files), shared memory. */
    public record Resident(long anonBytes, long fileBytes, long shmemBytes) {
        public long totalBytes() {
            return anonBytes + fileBytes + shmemBytes;
        }
    }

    private NativeHeap() {}

    /** Whether the glibc functions are reachable (64-bit Linux with glibc >= 2.33). */
    public static boolean available() {
        return LIBC != null;
    }

    /** The heap's statistics, or null where {@link #available} is false. */
    public static Stats stats() {
        if (LIBC == null) {
            return null;
        }
        Mallinfo2 m = LIBC.mallinfo2();
        return new Stats(m.arena, m.hblkhd, m.uordblks + m.hblkhd, m.fordblks);
    }

    /**
     * Gives the freed blocks malloc keeps back to the system and returns how much the resident set
     * fell (bytes; 0 or a small negative number when nothing was kept), or -1 where unavailable.
     * Live tensors are untouched: only pages of free chunks are released, so outputs cannot change.
     */
    public static long trim() {
        if (LIBC == null) {
            return -1;
        }
        long before = resident().totalBytes();
        LIBC.malloc_trim(0);
        return before - resident().totalBytes();
    }

    /** The resident set split by kind from {@code /proc/self/status}; -1 fields where unreadable. */
    public static Resident resident() {
        long anon = -1;
        long file = -1;
        long shmem = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("RssAnon:")) {
                    anon = kib(line);
                } else if (line.startsWith("RssFile:")) {
                    file = kib(line);
                } else if (line.startsWith("RssShmem:")) {
                    shmem = kib(line);
                }
            }
        } catch (IOException | RuntimeException e) {
            return new Resident(-1, -1, -1);
        }
        return new Resident(anon, file, shmem);
    }

    private static long kib(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
    }

    private static Libc load() {
        if (!Platform.isLinux() || !Platform.is64Bit()) {
            return null;
        }
        try {
            Libc libc = Native.load(Platform.C_LIBRARY_NAME, Libc.class);
            libc.mallinfo2(); // glibc < 2.33 or musl: no such symbol
            return libc;
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return null;
        }
    }
}
