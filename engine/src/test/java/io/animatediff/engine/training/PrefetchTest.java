package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prefetching data loader: the next step's clips, latents and text prepared on a second thread
 * change nothing. The same seed gives bit-identical weights, optimizer state and losses with the
 * prefetch on and off; a checkpoint written while the prefetch has already read ahead stores the
 * position, skip counts and clips seen of the steps done, and resuming from it (prefetch on) ends
 * bit-identical to the run without prefetch.
 */
class PrefetchTest {
    private static final int STEPS = 8;
    private static final int EVERY = 4;

    /** The fixture's 12 clips with two bad lines: 16 clips over 8 steps cross into epoch 1. */
    private static Path dataWithBadLines(Path dir) throws IOException {
        SyntheticClips.write(dir, 12, 12, 40, 5);
        List<String> lines = new ArrayList<>(Files.readAllLines(dir.resolve(DatasetSource.INDEX)));
        lines.add(3, "{\"video\": \"missing.gif\", \"caption\": \"gone\"}"); // line 4
        lines.add(9, "not json"); // line 10: read while step 4 (clips 8, 9) is prefetched
        Files.write(dir.resolve(DatasetSource.INDEX), lines, StandardCharsets.UTF_8);
        return dir;
    }

    private static TrainingConfig config(Path out, boolean prefetch, boolean resume) {
        return TrainingFixture.config(out)
                .steps(STEPS)
                .batchSize(1)
                .gradientAccumulation(2)
                .checkpointEvery(EVERY)
                .prefetch(prefetch)
                .resume(resume)
                .build();
    }

    private static List<String> train(TrainingConfig config, Path data, List<Double> losses) throws IOException {
        List<String> messages = new ArrayList<>();
        TrainingListener record = new TrainingListener() {
            @Override
            public void onMessage(String message) {
                messages.add(message);
            }

            @Override
            public void onStep(StepReport report) {
                losses.add(report.loss());
            }
        };
        try (MotionTrainer t = MotionTrainer.open(config, new FolderDatasetSource(data), record)) {
            t.train();
        }
        return messages;
    }

    private static void assertSameCheckpoint(Path a, Path b, long step) throws IOException {
        TrainingFixture.assertSameWeights(a, b);
        TrainingCheckpoint.State sa = TrainingCheckpoint.verify(a, step);
        TrainingCheckpoint.State sb = TrainingCheckpoint.verify(b, step);
        assertEquals(sa.epoch(), sb.epoch(), "epoch at step " + step);
        assertEquals(sa.line(), sb.line(), "line at step " + step);
        assertEquals(sa.clipsSeen(), sb.clipsSeen(), "clips seen at step " + step);
        assertEquals(sa.skipped(), sb.skipped(), "skip counts at step " + step);
        assertEquals(sa.lastLoss(), sb.lastLoss(), "loss at step " + step);
    }

    @Test
    void prefetchOnAndOffAndResumedAreBitIdentical(
            @TempDir Path dataDir, @TempDir Path off, @TempDir Path on, @TempDir Path resumed) throws Exception {
        Path data = dataWithBadLines(dataDir);
        List<Double> lossesOff = new ArrayList<>();
        List<Double> lossesOn = new ArrayList<>();
        List<String> messagesOff = train(config(off, false, false), data, lossesOff);
        List<String> messagesOn = train(config(on, true, false), data, lossesOn);

        assertEquals(STEPS, lossesOff.size());
        assertEquals(lossesOff, lossesOn, "per-step losses");
        assertNotEquals(lossesOff.get(0), lossesOff.get(STEPS - 1), "the weights change: not a vacuous comparison");
        assertEquals(messagesOff, messagesOn, "the same skip messages, in the same order");
        assertEquals(2, messagesOn.stream().filter(m -> m.contains("skipped")).count(), messagesOn.toString());
        for (long step : List.of((long) EVERY, (long) STEPS)) {
            assertSameCheckpoint(TrainingCheckpoint.dir(off, step), TrainingCheckpoint.dir(on, step), step);
        }
        // at step 4 the prefetch had read step 5's clips (lines 10-12, one bad): the checkpoint has not
        TrainingCheckpoint.State at4 = TrainingCheckpoint.verify(TrainingCheckpoint.dir(on, EVERY), EVERY);
        assertEquals(0, at4.epoch());
        assertEquals(9, at4.line(), "8 clips and the missing video on line 4 read");
        assertEquals(
                1L,
                at4.skipped().values().stream().mapToLong(Long::longValue).sum(),
                at4.skipped().toString());
        TrainingCheckpoint.State at8 = TrainingCheckpoint.verify(TrainingCheckpoint.dir(on, STEPS), STEPS);
        assertEquals(1, at8.epoch(), "16 clips of a 12-clip dataset reach epoch 1");

        // a run that stopped at step 4 (its prefetch of step 5 lost), resumed with the prefetch on
        Files.createDirectories(resumed);
        copyTree(
                TrainingCheckpoint.dir(on, EVERY),
                resumed.resolve(TrainingCheckpoint.dir(on, EVERY).getFileName()));
        List<Double> lossesResumed = new ArrayList<>();
        train(config(resumed, true, true), data, lossesResumed);
        assertEquals(lossesOff.subList(EVERY, STEPS), lossesResumed, "losses of steps 5-8 after the resume");
        assertSameCheckpoint(TrainingCheckpoint.dir(off, STEPS), TrainingCheckpoint.dir(resumed, STEPS), STEPS);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path p : files.toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
        assertTrue(Files.exists(to.resolve(TrainingCheckpoint.COMPLETE)), "the copy is a complete checkpoint");
    }
}
