package io.animatediff.engine.world;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.GifReader;
import io.animatediff.engine.world.MiniWorld.Clip;
import io.animatediff.engine.world.MiniWorld.Colour;
import io.animatediff.engine.world.MiniWorld.Direction;
import io.animatediff.engine.world.MiniWorld.Domain;
import io.animatediff.engine.world.MiniWorld.Scene;
import io.animatediff.engine.world.MiniWorld.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The world renders what its captions say, and the metrics read exactly that back. */
class MiniWorldTest {
    private static final int FRAMES = 8;
    private static final int SIZE = 32;

    @Test
    void captionsAndDeterminism() {
        Scene s = new Scene(Shape.CIRCLE, Colour.RED, Direction.LEFT);
        assertEquals("a red circle moving left", s.caption());
        assertEquals("a blue square standing still", new Scene(Shape.SQUARE, Colour.BLUE, Direction.STILL).caption());
        assertEquals(60, Scene.all().size(), "3 shapes x 4 colours x 5 directions");
        Frames a = MiniWorld.render(s, Domain.BASE, FRAMES, SIZE, 42).frames();
        Frames b = MiniWorld.render(s, Domain.BASE, FRAMES, SIZE, 42).frames();
        Frames c = MiniWorld.render(s, Domain.BASE, FRAMES, SIZE, 43).frames();
        assertArrayEquals(a.rgb(), b.rgb(), "same seed, same clip");
        assertTrue(!java.util.Arrays.equals(a.rgb(), c.rgb()), "another seed moves or resizes the object");
    }

    @Test
    void everyBackdropStandsApartFromEveryObjectColourAndTheEye() {
        for (int backdrop : MiniWorld.Backdrops.known()) {
            for (Colour c : Colour.values()) {
                assertTrue(
                        distance(backdrop, c.rgb) > WorldMetrics.OBJECT_DISTANCE,
                        c + " on " + Integer.toHexString(backdrop));
            }
            assertTrue(distance(backdrop, MiniWorld.EYE) > WorldMetrics.OBJECT_DISTANCE, Integer.toHexString(backdrop));
        }
        for (MiniWorld.Backdrops world : MiniWorld.Backdrops.values()) {
            java.util.Set<Integer> seen = new java.util.HashSet<>();
            for (int seed = 0; seed < 200; seed++) {
                Frames f = MiniWorld.render(
                                new Scene(Shape.SQUARE, Colour.RED, Direction.STILL), Domain.BASE, world, 1, SIZE, seed)
                        .frames();
                seen.add(f.rgb()[0]);
            }
            assertEquals(java.util.Set.copyOf(world.colours()), seen, "every backdrop of " + world + " is drawn");
        }
    }

    @Test
    void theBackdropIsTheOnlyDifferenceBetweenTheWorlds() {
        Scene s = new Scene(Shape.TRIANGLE, Colour.BLUE, Direction.UP);
        for (long seed = 0; seed < 20; seed++) {
            int[] grey = MiniWorld.render(s, Domain.BASE, FRAMES, SIZE, seed)
                    .frames()
                    .rgb();
            int[] broad = MiniWorld.render(s, Domain.BASE, MiniWorld.Backdrops.BROAD, FRAMES, SIZE, seed)
                    .frames()
                    .rgb();
            int backdrop = broad[0];
            for (int p = 0; p < grey.length; p++) {
                assertEquals(grey[p] == 0xC8C8C8 ? backdrop : grey[p], broad[p], "pixel " + p + ", seed " + seed);
            }
        }
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> MiniWorld.Backdrops.named("green", "--base-domain"));
        assertEquals(
                "--base-domain green is not a base domain of the world: use grey (one light grey, the shipped models')"
                        + " or broad (nine plain colours)",
                e.getMessage());
    }

    private static double distance(int p, int q) {
        int dr = ((p >> 16) & 0xFF) - ((q >> 16) & 0xFF);
        int dg = ((p >> 8) & 0xFF) - ((q >> 8) & 0xFF);
        int db = (p & 0xFF) - (q & 0xFF);
        return Math.sqrt(dr * dr + dg * dg + db * db);
    }

    @Test
    void metricsReadEveryGroundTruthClipCorrectly() {
        metricsReadEveryGroundTruthClipCorrectly(SIZE);
        metricsReadEveryGroundTruthClipCorrectly(64);
    }

    private static void metricsReadEveryGroundTruthClipCorrectly(int size) {
        for (MiniWorld.Backdrops world : MiniWorld.Backdrops.values()) {
            metricsReadEveryGroundTruthClipCorrectly(size, world);
        }
    }

    private static void metricsReadEveryGroundTruthClipCorrectly(int size, MiniWorld.Backdrops world) {
        for (Domain domain : Domain.values()) {
            List<Scene> scenes = Scene.all();
            List<Frames> clips = new ArrayList<>();
            for (int i = 0; i < scenes.size(); i++) {
                Clip clip = MiniWorld.render(scenes.get(i), domain, world, FRAMES, size, 100 + i);
                WorldMetrics.ClipReading r = WorldMetrics.read(clip.frames());
                Scene s = scenes.get(i);
                assertEquals(s.direction(), r.direction(), s.caption() + " in " + domain + " of " + world);
                assertEquals(s.colour(), r.colour(), s.caption() + " in " + domain + " of " + world);
                assertEquals(s.shape(), r.shape(), s.caption() + " in " + domain + " of " + world);
                assertEquals(domain, WorldMetrics.domain(r), s.caption());
                clips.add(clip.frames());
            }
            WorldMetrics.Row row = WorldMetrics.row("truth " + domain, scenes, clips);
            assertEquals(1.0, row.motionAccuracy());
            assertEquals(domain == Domain.PERSONALIZED ? 1.0 : 0.0, row.personalizedFrames());
            assertEquals(1.0, row.temporalConsistency());
            assertEquals(1.0, row.colourAccuracy());
            assertEquals(1.0, row.shapeAccuracy());
        }
    }

    @Test
    void shuffledFramesLoseTheMotionButKeepTheRest() {
        List<Scene> moving = Scene.all().stream()
                .filter(s -> s.direction() != Direction.STILL)
                .toList();
        List<Frames> shuffled = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < moving.size(); i++) {
            Frames f = MiniWorld.render(moving.get(i), Domain.BASE, FRAMES, SIZE, 200 + i)
                    .frames();
            shuffled.add(MiniWorld.shuffled(f, rnd));
        }
        WorldMetrics.Row row = WorldMetrics.row("shuffled", moving, shuffled);
        // positions along the path in random order: no line explains them, so no coherent direction
        // is read (or a short one, "still"); chance among the 5 readings is 20%
        assertTrue(row.motionAccuracy() < 0.35, "motion accuracy of shuffled clips: " + row.motionAccuracy());
        assertEquals(1.0, row.colourAccuracy());
        assertEquals(1.0, row.shapeAccuracy());
    }

    @Test
    void aDatasetInTheTrainersFormat(@TempDir Path dir) throws Exception {
        List<Clip> clips = MiniWorld.writeDataset(dir, 6, FRAMES, SIZE, Domain.PERSONALIZED, 9);
        List<String> lines = Files.readAllLines(dir.resolve("clips.jsonl"));
        assertEquals(6, lines.size());
        assertEquals("{\"video\": \"videos/clip-00000.gif\", \"caption\": \"a red circle moving left\"}", lines.get(0));
        Frames back = GifReader.read(dir.resolve("videos/clip-00003.gif"));
        assertArrayEquals(clips.get(3).frames().rgb(), back.rgb(), "a GIF holds the few colours exactly");
    }

    @Test
    void framesThatCannotHoldTheMotionAreRefused() {
        Scene s = new Scene(Shape.SQUARE, Colour.GREEN, Direction.RIGHT);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> MiniWorld.render(s, Domain.BASE, 40, SIZE, 1));
        assertTrue(e.getMessage().contains("use fewer frames or a larger size"), e.getMessage());
    }
}
