package io.animatediff.engine.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VideoReaderTest {
    @TempDir
    Path dir;

    private final Frames frames = TestVideos.movingSquare(8, 64, 48, 16, 4, 8.0);

    @Test
    void readsGifMp4AndFolderByContentNotName() throws IOException {
        Path gif = dir.resolve("clip.gif");
        GifWriter.write(frames, gif, 0);
        Path mp4 = dir.resolve("clip.mp4");
        Mp4Writer.write(frames, mp4);
        Path folder = dir.resolve("clip_frames");
        PngFrames.write(frames, folder);
        // Misleading names: detection looks at the bytes.
        Path gifNamedMp4 = Files.copy(gif, dir.resolve("really_a_gif.mp4"));
        Path mp4NoExtension = Files.copy(mp4, dir.resolve("video"));

        assertEquals(VideoReader.Kind.GIF, VideoReader.detect(gifNamedMp4));
        assertEquals(VideoReader.Kind.MP4, VideoReader.detect(mp4NoExtension));
        assertEquals(VideoReader.Kind.FOLDER, VideoReader.detect(folder));

        assertEquals(frames, VideoReader.read(gifNamedMp4));
        assertEquals(frames, VideoReader.read(folder)); // folder rate defaults to 8 fps
        assertEquals(12.0, VideoReader.read(folder, 12.0).fps());
        Frames decoded = VideoReader.read(mp4NoExtension);
        assertEquals(8, decoded.count());
        assertEquals(64, decoded.width());
        assertEquals(48, decoded.height());
        assertEquals(8.0, decoded.fps(), 1e-9);
        float[] a = frames.toFloatCHW();
        float[] b = decoded.toFloatCHW();
        double mean = 0;
        for (int i = 0; i < a.length; i++) {
            mean += Math.abs(a[i] - b[i]);
        }
        mean /= a.length;
        assertTrue(mean <= 2.5 / 255, "mean |mp4 - original| = " + mean * 255 + "/255");
    }

    @Test
    void unknownEmptyAndMissingInputsGiveClearErrors() throws IOException {
        Path text = dir.resolve("notes.gif");
        Files.writeString(text, "hello, world\n", StandardCharsets.US_ASCII);
        IOException e = assertThrows(IOException.class, () -> VideoReader.read(text));
        assertEquals(
                text + ": not a GIF, MP4 or folder of frames (first bytes 68 65 6c 6c 6f 2c 20 77 6f 72 6c 64"
                        + " 0a \"hello, world.\")",
                e.getMessage());

        Path empty = Files.createFile(dir.resolve("empty.mp4"));
        e = assertThrows(IOException.class, () -> VideoReader.read(empty));
        assertEquals(empty + ": not a GIF, MP4 or folder of frames (the file is empty)", e.getMessage());

        Path png = dir.resolve("still.png");
        PngFrames.write(frames, dir.resolve("pngs"));
        Files.copy(dir.resolve("pngs/frame_0000.png"), png);
        e = assertThrows(IOException.class, () -> VideoReader.read(png));
        assertTrue(
                e.getMessage().startsWith(png + ": not a GIF, MP4 or folder of frames (first bytes 89 50 4e 47"),
                e.getMessage());
        assertTrue(
                e.getMessage().endsWith(": this is a single PNG image; put the frames in a folder and pass the folder"),
                e.getMessage());

        Path missing = dir.resolve("nope.gif");
        NoSuchFileException n = assertThrows(NoSuchFileException.class, () -> VideoReader.read(missing));
        assertEquals(missing + ": no such file or folder", n.getMessage());
    }

    @Test
    void truncatedFilesAreRefusedThroughTheReader() throws IOException {
        Path gif = dir.resolve("clip.gif");
        GifWriter.write(frames, gif, 0);
        Path mp4 = dir.resolve("clip.mp4");
        Mp4Writer.write(frames, mp4);
        for (Path file : new Path[] {gif, mp4}) {
            byte[] bytes = Files.readAllBytes(file);
            Path cut = dir.resolve("cut_" + file.getFileName());
            Files.write(cut, Arrays.copyOf(bytes, bytes.length * 2 / 3));
            IOException e = assertThrows(IOException.class, () -> VideoReader.read(cut));
            assertTrue(e.getMessage().startsWith(cut + ": truncated "), e.getMessage());
        }
        assertArrayEquals(frames.rgb(), VideoReader.read(gif).rgb(), "the intact file still reads");
    }
}
