package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.GifWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClipDatasetTest {
    private static final int F = 8;
    private static final int S = 32;

    private static ClipDataset open(DatasetSource source, ClipDataset.Position at, List<String> messages)
            throws IOException {
        return ClipDataset.open(source, F, 1, S, 3, at, Map.of(), messages::add);
    }

    @Test
    void badLinesAreSkippedCountedAndReportedNeverFatal(@TempDir Path dir) throws Exception {
        List<SyntheticClips.Entry> good = SyntheticClips.write(dir, 3, 10, 40, 1);
        GifWriter.write(new Frames(3, 8, 8, new int[3 * 64], 8), dir.resolve("short.gif"), 0);
        Files.writeString(dir.resolve("text.gif"), "not a video");
        List<String> lines = new ArrayList<>(Files.readAllLines(dir.resolve(DatasetSource.INDEX)));
        lines.add(1, "{\"video\": \"short.gif\", \"caption\": \"a tiny clip\"}"); // line 2: 3 frames < 8
        lines.add(2, "this is not json"); // line 3
        lines.add(3, "{\"video\": \"missing.gif\", \"caption\": \"gone\"}"); // line 4
        lines.add(4, "{\"video\": \"../outside.gif\", \"caption\": \"escape\"}"); // line 5
        lines.add(5, "{\"video\": \"text.gif\", \"caption\": \"broken\"}"); // line 6
        lines.add(6, "{\"video\": \"clip-0001\"}"); // line 7: no caption
        lines.add(7, ""); // blank lines are ignored
        Files.write(dir.resolve(DatasetSource.INDEX), lines, StandardCharsets.UTF_8);

        List<String> messages = new ArrayList<>();
        try (ClipDataset d = open(new FolderDatasetSource(dir), ClipDataset.Position.START, messages)) {
            List<String> captions = new ArrayList<>();
            for (int i = 0; i < 6; i++) { // two epochs of the three good clips
                ClipDataset.Clip c = d.next();
                assertEquals(F * 3 * S * S, c.pixels().length);
                for (float v : c.pixels()) {
                    assertTrue(v >= -1f && v <= 1f, "pixels normalised to [-1, 1]: " + v);
                }
                captions.add(c.caption());
            }
            List<String> expected = new ArrayList<>();
            for (int e = 0; e < 2; e++) {
                good.forEach(g -> expected.add(g.caption()));
            }
            assertEquals(expected, captions);
            assertEquals(
                    Map.of(
                            ClipDataset.TOO_SHORT, 2L,
                            ClipDataset.BAD_LINE, 4L,
                            ClipDataset.MISSING_VIDEO, 2L,
                            ClipDataset.UNSAFE_PATH, 2L,
                            ClipDataset.UNREADABLE_VIDEO, 2L),
                    d.skipped(),
                    "each bad line counted once per epoch");
            assertEquals(12, d.skippedTotal());
        }
        // reported once (first epoch), with the line number and what to fix
        assertEquals(6, messages.size(), messages.toString());
        assertTrue(
                messages.get(0).startsWith("clips.jsonl line 2: skipped (too short: 'short.gif' has 3 frames"),
                messages.get(0));
        assertTrue(messages.get(1).startsWith("clips.jsonl line 3: skipped (bad line: not JSON"), messages.get(1));
        assertTrue(messages.get(2).contains("line 4: skipped (missing video: 'missing.gif' does not exist)"));
        assertTrue(messages.get(3).contains("line 5: skipped (unsafe path"));
        assertTrue(messages.get(4).contains("line 6: skipped (unreadable video: 'text.gif'"));
        assertTrue(messages.get(5).contains("line 7: skipped (bad line: needs a string \"caption\")"));
    }

    @Test
    void aDatasetWithoutUsableClipsIsAnErrorNamingIt(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve(DatasetSource.INDEX), "nope\n{\"video\": \"x.gif\", \"caption\": \"\"}\n");
        List<String> messages = new ArrayList<>();
        try (ClipDataset d = open(new FolderDatasetSource(dir), ClipDataset.Position.START, messages)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, d::next);
            assertTrue(e.getMessage().contains("has no usable clip: all 2 lines"), e.getMessage());
        }
        IllegalArgumentException none = assertThrows(
                IllegalArgumentException.class,
                () -> open(new FolderDatasetSource(dir.resolve("..")), ClipDataset.Position.START, messages));
        assertTrue(none.getMessage().contains("has no clips.jsonl"), none.getMessage());
    }

    @Test
    void reopeningAtAPositionContinuesTheSameStream(@TempDir Path dir) throws Exception {
        SyntheticClips.write(dir, 5, 12, 40, 2);
        DatasetSource source = new FolderDatasetSource(dir);
        List<ClipDataset.Clip> straight = new ArrayList<>();
        ClipDataset.Position afterFour;
        try (ClipDataset d = open(source, ClipDataset.Position.START, new ArrayList<>())) {
            for (int i = 0; i < 4; i++) {
                straight.add(d.next());
            }
            afterFour = d.position();
            for (int i = 0; i < 8; i++) {
                straight.add(d.next());
            }
        }
        assertEquals(new ClipDataset.Position(0, 4), afterFour);
        try (ClipDataset d = open(source, afterFour, new ArrayList<>())) {
            for (int i = 4; i < straight.size(); i++) {
                ClipDataset.Clip c = d.next();
                assertEquals(straight.get(i).line(), c.line());
                assertEquals(straight.get(i).epoch(), c.epoch());
                assertArrayEquals(straight.get(i).pixels(), c.pixels(), "clip " + i);
            }
        }
        // the same line in another epoch draws another start frame or flip
        assertEquals(straight.get(0).line(), straight.get(5).line());
        assertEquals(1, straight.get(5).epoch());
    }

    @Test
    void aRemoteSourceReadsTheSameClipsAsTheLocalFolder(@TempDir Path dir) throws Exception {
        List<SyntheticClips.Kind> kinds =
                List.of(SyntheticClips.Kind.GIF, SyntheticClips.Kind.PNG_FOLDER, SyntheticClips.Kind.MP4);
        SyntheticClips.write(dir, 3, 10, 40, 4, kinds);
        FolderDatasetSource local = new FolderDatasetSource(dir);
        DatasetSource remote = new DatasetSource() { // list/open only, like an object store
                    @Override
                    public String describe() {
                        return "remote " + local.describe();
                    }

                    @Override
                    public InputStream open(String relativePath) throws IOException {
                        return local.open(relativePath);
                    }

                    @Override
                    public List<String> list(String relativePath) throws IOException {
                        return local.list(relativePath);
                    }
                };
        try (ClipDataset a = open(local, ClipDataset.Position.START, new ArrayList<>());
                ClipDataset b = open(remote, ClipDataset.Position.START, new ArrayList<>())) {
            for (int i = 0; i < 3; i++) {
                ClipDataset.Clip x = a.next();
                ClipDataset.Clip y = b.next();
                assertEquals(x.video(), y.video());
                assertArrayEquals(x.pixels(), y.pixels(), x.video());
            }
            assertEquals(ClipDataset.Position.START.epoch(), a.position().epoch());
            assertEquals(0, a.skippedTotal(), "GIF, PNG folder and MP4 all read: " + a.skipped());
        }
    }
}
