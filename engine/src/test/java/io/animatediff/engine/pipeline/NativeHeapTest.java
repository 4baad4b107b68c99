package io.animatediff.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Memory;
import io.animatediff.engine.model.AnimateDiffModel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** glibc's heap through JNA: trimming gives kept free blocks back and leaves live memory alone. */
class NativeHeapTest {
    private static final long MIB = 1 << 20;

    /**
     * 64 MiB in 64 KiB blocks (below malloc's mmap threshold, so they live in an arena), every other
     * one freed: the freed ones sit between blocks still in use, so they can neither merge nor shrink
     * the arena's top, and malloc keeps them resident until {@link NativeHeap#trim}.
     */
    @Test
    void trimReturnsFreedBlocksMallocKept() {
        assumeTrue(NativeHeap.available(), "needs 64-bit Linux with glibc >= 2.33");
        List<Memory> freed = new ArrayList<>();
        List<Memory> kept = new ArrayList<>();
        for (int i = 0; i < 1024; i++) {
            Memory b = new Memory(64 << 10);
            b.clear(); // touch every page
            b.setLong(0, i);
            (i % 2 == 0 ? freed : kept).add(b);
        }
        NativeHeap.Stats before = NativeHeap.stats();
        freed.forEach(Memory::close);
        NativeHeap.Stats after = NativeHeap.stats();
        assertNotNull(after);
        assertTrue(
                after.freeBytes() - before.freeBytes() >= 16 * MIB,
                "malloc keeps the freed blocks: " + before.describe() + " -> " + after.describe());
        long released = NativeHeap.trim();
        System.out.printf(
                "malloc_trim(0) after freeing 32 MiB of 64 KiB blocks: %d MiB resident freed%n", released >> 20);
        assertTrue(released >= 8 * MIB, "trim released " + released + " bytes of ~32 MiB kept");
        for (int i = 0; i < kept.size(); i++) {
            assertTrue(kept.get(i).getLong(0) == 2 * i + 1, "block " + (2 * i + 1) + " in use is untouched");
        }
        kept.forEach(Memory::close);
    }

    /** The pipeline's output is the same after a trim as before it (same seed, same model). */
    @Test
    void trimBetweenRunsDoesNotChangeTheOutput() throws Exception {
        try (AnimateDiffModel model = TinyModelFixture.load()) {
            AnimationParams params = TinyModelFixture.small().build();
            float[] first = new AnimationPipeline(model)
                    .run(params, StepListener.NONE, false)
                    .latents();
            long released = NativeHeap.trim();
            assertTrue(released >= -MIB || !NativeHeap.available(), "trim: " + released + " bytes");
            float[] second = new AnimationPipeline(model)
                    .run(params, StepListener.NONE, false)
                    .latents();
            assertTrue(first.length > 0, "latents produced");
            assertArrayEquals(first, second, "the same run after malloc_trim gives the same latents");
        }
    }
}
