package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.weights.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The latent cache ({@link TrainingConfig#latentCacheClips()}): the frozen VAE's moments of a clip
 * sample seen before are reused. Clips of exactly the training length always sample the same frames,
 * so after the first epoch every clip comes from the cache; the first epoch is bit-identical to the
 * run without the cache (its micro-batches encode as they would), and the rest agree to float
 * rounding (the encoder ran on other batches). A cache smaller than the dataset evicts and encodes
 * again.
 */
class LatentCacheTest {
    private static final int CLIPS = 6;
    private static final int STEPS = 9; // batch 2: three steps per epoch, three epochs

    private static TrainingConfig config(Path out, int cached) {
        return TrainingFixture.config(out)
                .steps(STEPS)
                .batchSize(2)
                .checkpointEvery(STEPS)
                .prefetch(false)
                .randomFlip(false) // a flip is another sample: with it on, some clips come back flipped
                .latentCacheClips(cached)
                .build();
    }

    private record Run(List<Double> losses, long[] counts) {}

    private static Run train(TrainingConfig config, Path data) throws IOException {
        List<Double> losses = new ArrayList<>();
        TrainingListener record = TrainingFixture.lossesInto(losses);
        try (MotionTrainer t = MotionTrainer.open(config, new FolderDatasetSource(data), record)) {
            t.train();
            return new Run(losses, t.latentCacheCounts());
        }
    }

    @Test
    void laterEpochsComeFromTheCacheWithTheSameNumbers(
            @TempDir Path dataDir, @TempDir Path off, @TempDir Path on, @TempDir Path small) throws Exception {
        SyntheticClips.write(dataDir, CLIPS, TrainingFixture.FRAMES, 40, 5);
        Run without = train(config(off, 0), dataDir);
        Run with = train(config(on, 100), dataDir);
        assertArrayEquals(new long[] {0, 0}, without.counts());
        assertArrayEquals(new long[] {2L * STEPS - CLIPS, CLIPS}, with.counts(), "hits, misses");
        assertEquals(without.losses().subList(0, 3), with.losses().subList(0, 3), "first epoch bit-identical");
        for (int i = 3; i < STEPS; i++) {
            double a = without.losses().get(i);
            double b = with.losses().get(i);
            assertEquals(a, b, 1e-5 * Math.abs(a), "step " + (i + 1) + " loss");
        }
        try (SafetensorsFile x = SafetensorsFile.open(
                        TrainingCheckpoint.dir(off, STEPS).resolve(TrainingCheckpoint.MOTION_MODULE));
                SafetensorsFile y = SafetensorsFile.open(
                        TrainingCheckpoint.dir(on, STEPS).resolve(TrainingCheckpoint.MOTION_MODULE))) {
            for (String k : x.keys()) {
                float[] a = x.loadFloats(k);
                float[] b = y.loadFloats(k);
                for (int i = 0; i < a.length; i++) {
                    assertEquals(a[i], b[i], 1e-4f, k + "[" + i + "]");
                }
            }
        }

        // room for 4 of 6 clips: each epoch's first clips were evicted by the time they come back
        Run evicting = train(config(small, 4), dataDir);
        assertTrue(evicting.counts()[1] > CLIPS, "re-encoded after eviction: " + evicting.counts()[1]);
        assertEquals(2L * STEPS, evicting.counts()[0] + evicting.counts()[1]);
    }

    @Test
    void aNegativeCacheIsRefusedByName(@TempDir Path out) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config(out, -1));
        assertTrue(e.getMessage().contains("latentCacheClips: -1 must be >= 0"), e.getMessage());
    }
}
