package io.animatediff.engine.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PngFramesTest {
    @TempDir
    Path dir;

    @Test
    void roundTripIsExact() throws IOException {
        int[] rgb = new int[5 * 17 * 9];
        Random random = new Random(11);
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = random.nextInt(0x1000000);
        }
        Frames frames = new Frames(5, 17, 9, rgb, 12);
        Path out = dir.resolve("run/frames");
        List<Path> written = PngFrames.write(frames, out);
        assertEquals(5, written.size());
        assertEquals(out.resolve("frame_0000.png").toAbsolutePath(), written.get(0));
        assertEquals("frame_0004.png", written.get(4).getFileName().toString());
        Frames back = PngFrames.read(out, 12);
        assertEquals(frames, back);
        assertEquals(List.of("frames"), names(dir.resolve("run")), "no temporary folders left");
    }

    @Test
    void replacesAPreviousOutputButRefusesForeignFiles() throws IOException {
        Path out = dir.resolve("frames");
        PngFrames.write(TestVideos.movingSquare(6, 8, 8, 2, 1, 8), out);
        Frames shorter = TestVideos.movingSquare(3, 8, 8, 3, 2, 8);
        PngFrames.write(shorter, out);
        assertEquals(List.of("frame_0000.png", "frame_0001.png", "frame_0002.png"), names(out));
        assertEquals(shorter, PngFrames.read(out, 8));
        assertEquals(List.of("frames"), names(dir));

        Files.writeString(out.resolve("notes.txt"), "mine");
        IOException e = assertThrows(IOException.class, () -> PngFrames.write(shorter, out));
        assertEquals(
                out.toAbsolutePath() + ": folder already holds notes.txt, which is not a frame of a previous"
                        + " output: choose a new or empty folder",
                e.getMessage());
        assertEquals(List.of("frames"), names(dir), "refused before writing anything");

        Path empty = Files.createDirectory(dir.resolve("empty"));
        PngFrames.write(shorter, empty);
        assertEquals(3, names(empty).size());
    }

    @Test
    void readsFramesInNaturalOrderSkippingOtherFiles() throws IOException {
        Path folder = Files.createDirectory(dir.resolve("clip"));
        List<String> names = new ArrayList<>(List.of("img10.png", "img2.jpg", "img1.PNG", "img02b.png"));
        int[] colours = {0x0000FF, 0x00FF00, 0xFF0000, 0x808080};
        for (int i = 0; i < names.size(); i++) {
            BufferedImage image = new BufferedImage(4, 2, BufferedImage.TYPE_INT_RGB);
            for (int p = 0; p < 8; p++) {
                image.setRGB(p % 4, p / 4, colours[i]);
            }
            String format = names.get(i).endsWith(".jpg") ? "jpg" : "png";
            ImageIO.write(image, format, folder.resolve(names.get(i)).toFile());
        }
        Files.writeString(folder.resolve("captions.txt"), "ignored");
        Files.writeString(folder.resolve(".hidden.png"), "ignored");
        Frames frames = PngFrames.read(folder, 8);
        assertEquals(4, frames.count());
        // img1.PNG, img2.jpg, img02b.png, img10.png
        assertEquals(0xFF0000, frames.rgb()[0]);
        assertTrue(TestVideos.channelDiff(0x00FF00, frames.rgb()[8]) <= 8, "JPEG is lossy");
        assertEquals(0x808080, frames.rgb()[16]);
        assertEquals(0x0000FF, frames.rgb()[24]);

        List<String> sorted = new ArrayList<>(List.of("f10", "f9", "f0010a", "f1", "a", "f01"));
        Collections.sort(sorted, PngFrames::compareNatural);
        assertEquals(List.of("a", "f01", "f1", "f9", "f10", "f0010a"), sorted);
    }

    @Test
    void greyImagesKeepTheirValues() throws IOException {
        Path folder = Files.createDirectory(dir.resolve("grey"));
        BufferedImage grey = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setSamples(0, 0, 3, 1, 0, new int[] {0, 100, 255});
        ImageIO.write(grey, "png", folder.resolve("a.png").toFile());
        BufferedImage grey16 = new BufferedImage(3, 1, BufferedImage.TYPE_USHORT_GRAY);
        grey16.getRaster().setSamples(0, 0, 3, 1, 0, new int[] {0, 100 * 257, 65535});
        ImageIO.write(grey16, "png", folder.resolve("b.png").toFile());
        Frames frames = PngFrames.read(folder, 8);
        assertArrayEquals(new int[] {0, 0x646464, 0xFFFFFF, 0, 0x646464, 0xFFFFFF}, frames.rgb());
    }

    @Test
    void badFoldersGiveClearErrors() throws IOException {
        Path empty = Files.createDirectory(dir.resolve("none"));
        IOException e = assertThrows(IOException.class, () -> PngFrames.read(empty, 8));
        assertEquals(empty + ": folder holds no .png, .jpg or .jpeg frames", e.getMessage());

        Path mixed = Files.createDirectory(dir.resolve("mixed"));
        PngFrames.write(TestVideos.movingSquare(2, 8, 8, 2, 1, 8), mixed);
        ImageIO.write(
                new BufferedImage(8, 6, BufferedImage.TYPE_INT_RGB),
                "png",
                mixed.resolve("frame_0002.png").toFile());
        e = assertThrows(IOException.class, () -> PngFrames.read(mixed, 8));
        assertEquals(
                mixed.resolve("frame_0002.png") + ": frame is 8x6 but the first frame frame_0000.png is 8x8:"
                        + " all frames must have one size",
                e.getMessage());

        Path corrupt = Files.createDirectory(dir.resolve("corrupt"));
        Files.write(corrupt.resolve("0.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0});
        e = assertThrows(IOException.class, () -> PngFrames.read(corrupt, 8));
        assertTrue(e.getMessage().startsWith(corrupt.resolve("0.png") + ": "), e.getMessage());
    }

    private static List<String> names(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
