package io.animatediff.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.VideoReader;
import io.animatediff.engine.model.TinyVocabulary;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticClipsTest {

    @Test
    void writesSeededMovingShapesWithCaptionsInTheTinyVocabulary(@TempDir Path a, @TempDir Path b) throws Exception {
        List<SyntheticClips.Entry> first = SyntheticClips.write(a, 6, 9, 24, 11);
        List<SyntheticClips.Entry> again = SyntheticClips.write(b, 6, 9, 24, 11);
        assertEquals(first, again, "same seed, same clips");
        assertEquals(6, Files.readAllLines(a.resolve(DatasetSource.INDEX)).size());
        for (int i = 0; i < first.size(); i++) {
            SyntheticClips.Entry e = first.get(i);
            assertTrue(e.caption().matches("a \\w+ (circle|square|triangle) moving (left|right|up|down)"), e.caption());
            for (String word : e.caption().split(" ")) {
                assertTrue(TinyVocabulary.WORDS.contains(word), "'" + word + "' is a word of the tiny vocabulary");
            }
            Frames x = VideoReader.read(a.resolve(e.video()));
            Frames y = VideoReader.read(b.resolve(e.video()));
            assertEquals(x, y, e.video());
            assertEquals(9, x.count());
            assertEquals(24, x.width());
            assertEquals(
                    i % 2 == 0 ? VideoReader.Kind.GIF : VideoReader.Kind.FOLDER,
                    VideoReader.detect(a.resolve(e.video())));
            assertNotEquals(
                    java.util.Arrays.hashCode(java.util.Arrays.copyOfRange(x.rgb(), 0, 24 * 24)),
                    java.util.Arrays.hashCode(java.util.Arrays.copyOfRange(x.rgb(), 8 * 24 * 24, 9 * 24 * 24)),
                    "the shape moves between the first and the last frame");
        }
    }
}
