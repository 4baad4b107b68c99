package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Micro-batches on parallel threads ({@link TrainingConfig#microBatchThreads()}): each thread's
 * forward and {@code torch.autograd.grad}, summed in micro-batch order, give the same weights,
 * optimizer state and losses as one thread's backward passes accumulating in {@code .grad}, bit for
 * bit, for two micro-batches and for three on two threads (where the threads finish out of order).
 */
class MicroBatchThreadsTest {
    private static final int STEPS = 4;

    private static TrainingConfig config(Path out, int accumulation, int threads) {
        return TrainingFixture.config(out)
                .steps(STEPS)
                .batchSize(1)
                .gradientAccumulation(accumulation)
                .checkpointEvery(STEPS)
                .microBatchThreads(threads)
                .build();
    }

    private static List<Double> train(TrainingConfig config, Path data) throws IOException {
        List<Double> losses = new ArrayList<>();
        TrainingListener record = TrainingFixture.lossesInto(losses);
        try (MotionTrainer t = MotionTrainer.open(config, new FolderDatasetSource(data), record)) {
            t.train();
            assertEquals((long) STEPS * config.clipsPerStep(), t.clipsSeen(), "clips seen");
        }
        return losses;
    }

    private static void assertSameCheckpoint(Path a, Path b) throws IOException {
        TrainingFixture.assertSameWeights(a, b);
    }

    @Test
    void parallelMicroBatchesGiveTheSameWeightsBitForBit(
            @TempDir Path dataDir, @TempDir Path one, @TempDir Path two, @TempDir Path oneOf3, @TempDir Path twoOf3)
            throws Exception {
        SyntheticClips.write(dataDir, 12, 12, 40, 5);
        Path data = dataDir;
        List<Double> serial = train(config(one, 2, 1), data);
        List<Double> parallel = train(config(two, 2, 2), data);
        assertEquals(serial, parallel, "per-step losses");
        assertNotEquals(serial.get(0), serial.get(STEPS - 1), "the weights change: not a vacuous comparison");
        assertSameCheckpoint(TrainingCheckpoint.dir(one, STEPS), TrainingCheckpoint.dir(two, STEPS));

        List<Double> serial3 = train(config(oneOf3, 3, 1), data);
        List<Double> parallel3 = train(config(twoOf3, 3, 2), data);
        assertEquals(serial3, parallel3, "per-step losses, three micro-batches on two threads");
        assertSameCheckpoint(TrainingCheckpoint.dir(oneOf3, STEPS), TrainingCheckpoint.dir(twoOf3, STEPS));
    }

    @Test
    void zeroThreadsIsRefusedByName(@TempDir Path out) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config(out, 2, 0));
        assertTrue(e.getMessage().contains("microBatchThreads: 0 must be >= 1"), e.getMessage());
    }
}
