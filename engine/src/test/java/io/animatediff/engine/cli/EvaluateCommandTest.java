package io.animatediff.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code evaluate}: the reference rows' numbers, JSON lines, a generated row, clear errors. */
class EvaluateCommandTest {

    @Test
    void referenceRowsAsJsonLines() {
        MainTest.Result r = MainTest.run("evaluate", "--json", "--clips", "10");
        assertEquals(0, r.exit(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(3, lines.size(), r.out());
        assertEquals(
                "{\"row\": \"world clips, base domain\", \"clips\": 10, \"motion_accuracy\": 1.0000,"
                        + " \"personalized_frames\": 0.0000, \"temporal_consistency\": 1.0000,"
                        + " \"colour_accuracy\": 1.0000, \"shape_accuracy\": 1.0000}",
                lines.get(0));
        assertTrue(lines.get(1).contains("\"personalized_frames\": 1.0000"), lines.get(1));
        assertTrue(lines.get(2).startsWith("{\"row\": \"world clips, frames shuffled\""), lines.get(2));
        assertTrue(
                !lines.get(2).contains("\"motion_accuracy\": 1.0000"),
                "shuffled frames lose the motion: " + lines.get(2));
    }

    @Test
    void theBroadWorldsOwnClipsReadAsPerfectly() {
        MainTest.Result r = MainTest.run("evaluate", "--json", "--clips", "20", "--base-domain", "broad");
        assertEquals(0, r.exit(), r.err());
        assertEquals(
                "{\"row\": \"world clips, base domain\", \"clips\": 20, \"motion_accuracy\": 1.0000,"
                        + " \"personalized_frames\": 0.0000, \"temporal_consistency\": 1.0000,"
                        + " \"colour_accuracy\": 1.0000, \"shape_accuracy\": 1.0000}",
                r.out().lines().findFirst().orElseThrow());
        MainTest.Result bad = MainTest.run("evaluate", "--base-domain", "mars");
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("--base-domain mars is not a base domain of the world"), bad.err());
    }

    @Test
    void reproduceNamesABadOverrideBeforeTraining(@TempDir Path dir) throws Exception {
        MainTest.Result bad =
                MainTest.run("reproduce", "--out", dir.resolve("run").toString(), "--video-clips", "0");
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("videoClips (reproduce --video-clips) is 0: give at least 1"), bad.err());
        assertTrue(!Files.exists(dir.resolve("run")), "nothing written");
    }

    @Test
    void aGeneratedRowOnTheTinyModel(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base");
        Path motion = dir.resolve("motion.safetensors");
        TinyModels.writeBaseModel(base, 0);
        TinyModels.writeMotionModule(motion, MotionModuleConfig.tiny(false), 100, true);
        MainTest.Result r = MainTest.run(
                "evaluate", "--clips", "2", "--steps", "2", "--size", "32", "--row", "tiny=" + base + ":" + motion);
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("tiny ")), r.out());
        assertTrue(r.out().contains("motion chance level: 20%"), r.out());
    }

    @Test
    void theVaeRowsJudgeTheWorldsClipsThroughAModelsVae(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base");
        TinyModels.writeBaseModel(base, 0);
        MainTest.Result r =
                MainTest.run("evaluate", "--json", "--clips", "2", "--size", "32", "--vae", base.toString());
        assertEquals(0, r.exit(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(5, lines.size(), r.out());
        assertTrue(lines.get(3).startsWith("{\"row\": \"world clips through the VAE, base domain\""), lines.get(3));
        assertTrue(lines.get(4).startsWith("{\"row\": \"world clips through the VAE, personalized domain\""));
        MainTest.Result bad = MainTest.run("evaluate", "--vae", dir.toString());
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("no vae/ folder there"), bad.err());
    }

    @Test
    void aBadRowSaysWhatToGive() {
        MainTest.Result r = MainTest.run("evaluate", "--row", "nothing");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("expected NAME=MODEL_DIR:MOTION_FILE"), r.err());
        MainTest.Result missing = MainTest.run("evaluate", "--row", "x=/no/such/dir:/no/such.safetensors");
        assertTrue(missing.err().contains("does not exist"), missing.err());
    }

    @Test
    void worldDatasetWritesTheTrainersFormat(@TempDir Path dir) throws Exception {
        MainTest.Result r =
                MainTest.run("world-dataset", "--out", dir.toString(), "--clips", "3", "--domain", "personalized");
        assertEquals(0, r.exit(), r.err());
        assertEquals(
                3, java.nio.file.Files.readAllLines(dir.resolve("clips.jsonl")).size());
        MainTest.Result bad = MainTest.run("world-dataset", "--out", dir.toString(), "--domain", "mars");
        assertTrue(bad.err().contains("use base or personalized"), bad.err());
        Path broad = dir.resolve("broad");
        MainTest.Result b = MainTest.run(
                "world-dataset", "--out", broad.toString(), "--clips", "18", "--size", "32", "--base-domain", "broad");
        assertEquals(0, b.exit(), b.err());
        java.util.Set<Integer> corners = new java.util.HashSet<>();
        for (int i = 0; i < 18; i++) {
            corners.add(
                    io.animatediff.engine.media.GifReader.read(broad.resolve(String.format("videos/clip-%05d.gif", i)))
                            .rgb()[0]);
        }
        assertTrue(corners.size() > 3, "clips of the broad world on several backdrops: " + corners);
    }
}
