package io.animatediff.engine.ops;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's resident memory as Linux reports it ({@code /proc/self}): benchmarks reset the
 * high-water mark before a measured call and read it after. Elsewhere every figure is -1.
 */
public final class ResidentMemory {
    private ResidentMemory() {}

    /** Resets the resident high-water mark and returns the current resident bytes, or -1. */
    public static long resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException e) {
            return -1;
        }
        return status("VmRSS:");
    }

    /** The resident high-water mark since the last {@link #resetPeak} (bytes), or -1. */
    public static long peakResident() {
        return status("VmHWM:");
    }

    /** The current resident set (bytes), or -1. */
    public static long resident() {
        return status("VmRSS:");
    }

    private static long status(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
