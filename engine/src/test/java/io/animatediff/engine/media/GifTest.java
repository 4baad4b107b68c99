package io.animatediff.engine.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Node;

class GifTest {
    private static final String IMAGE_FORMAT = "javax_imageio_gif_image_1.0";

    @TempDir
    Path dir;

    @Test
    void writesFramesDelaysAndLoopBlockThatImageIoReadsBack() throws IOException {
        Frames frames = TestVideos.movingSquare(6, 48, 32, 10, 5, 8.0);
        Path gif = dir.resolve("square.gif");
        GifWriter.write(frames, gif, 0);

        ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
            reader.setInput(in, false, false);
            assertEquals(6, reader.getNumImages(true));
            int[] delays = new int[6];
            for (int i = 0; i < 6; i++) {
                BufferedImage image = reader.read(i);
                assertEquals(48, image.getWidth());
                assertEquals(32, image.getHeight());
                int[] pixels = image.getRGB(0, 0, 48, 32, null, 0, 48);
                for (int p = 0; p < pixels.length; p++) {
                    // Two flat colours per frame: the palette holds them exactly.
                    assertEquals(frames.rgb()[i * 48 * 32 + p], pixels[p] & 0xFFFFFF, "frame " + i + " pixel " + p);
                }
                IIOMetadataNode root =
                        (IIOMetadataNode) reader.getImageMetadata(i).getAsTree(IMAGE_FORMAT);
                IIOMetadataNode gce = child(root, "GraphicControlExtension");
                delays[i] = Integer.parseInt(gce.getAttribute("delayTime"));
                assertEquals("none", gce.getAttribute("disposalMethod"));
                if (i == 0) {
                    IIOMetadataNode app = child(child(root, "ApplicationExtensions"), "ApplicationExtension");
                    assertEquals("NETSCAPE", app.getAttribute("applicationID"));
                    assertEquals("2.0", app.getAttribute("authenticationCode"));
                    assertArrayEquals(new byte[] {1, 0, 0}, (byte[]) app.getUserObject(), "loop forever = 0");
                }
            }
            // 8 fps = 12.5 cs per frame: delays alternate so that the total stays exact (6 frames = 75 cs).
            assertArrayEquals(new int[] {13, 12, 13, 12, 13, 12}, delays);
        } finally {
            reader.dispose();
        }
    }

    @Test
    void delaysNeverAccumulateRoundingError() {
        assertArrayEquals(new int[] {13, 12, 13, 12}, GifWriter.delaysCentiseconds(4, 8));
        assertArrayEquals(new int[] {10, 10, 10}, GifWriter.delaysCentiseconds(3, 10));
        int[] at24 = GifWriter.delaysCentiseconds(24, 24); // 4.1667 cs per frame
        assertEquals(100, Arrays.stream(at24).sum(), "24 frames at 24 fps last 1 s");
        assertTrue(Arrays.stream(at24).allMatch(d -> d == 4 || d == 5), Arrays.toString(at24));
        int[] ntsc = GifWriter.delaysCentiseconds(300, 30000.0 / 1001);
        assertEquals(Math.round(300 * 100 * 1001 / 30000.0), Arrays.stream(ntsc).sum());
    }

    @Test
    void loopCountIsWrittenAndRangeChecked() throws IOException {
        Frames frames = TestVideos.movingSquare(2, 8, 8, 2, 1, 8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        GifWriter.write(frames, out, 300);
        Path gif = dir.resolve("loop.gif");
        Files.write(gif, out.toByteArray());
        assertEquals(300, GifReader.readStructure(gif).loopCount());

        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> GifWriter.write(frames, out, -1));
        assertTrue(e.getMessage().contains("loop count must be in [0, 65535]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GifWriter.write(frames, out, 65536));
    }

    @Test
    void refusesRatesGifCannotPlay() {
        Frames fast = TestVideos.movingSquare(2, 8, 8, 2, 1, 60);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> GifWriter.write(fast, dir.resolve("f.gif"), 0));
        assertTrue(e.getMessage().contains("60.000 fps is faster than GIF can play"), e.getMessage());
        assertTrue(e.getMessage().contains("write MP4"), e.getMessage());
        assertEquals(0, countFiles(), "nothing written");
    }

    @Test
    void gifReaderRoundTripsPixelsDelaysAndRate() throws IOException {
        Frames frames = TestVideos.movingSquare(16, 40, 24, 8, 2, 8.0);
        Path gif = dir.resolve("a.gif");
        GifWriter.write(frames, gif, 0);
        Frames back = GifReader.read(gif);
        assertEquals(16, back.count());
        assertEquals(40, back.width());
        assertEquals(24, back.height());
        assertArrayEquals(frames.rgb(), back.rgb());
        // 16 frames alternating 13/12 cs = 200 cs: exactly 8 fps.
        assertEquals(8.0, back.fps(), 1e-12);
        assertEquals(200, Arrays.stream(GifReader.readDelays(gif)).sum());
    }

    @Test
    void compositesPartialFramesWithTransparencyAndDisposal() throws IOException {
        int red = 0xFF0000;
        int green = 0x00FF00;
        int blue = 0x0000FF;
        int white = 0xFFFFFF;
        int clear = -1; // transparent pixel
        Path gif = dir.resolve("partial.gif");
        writeIndexedGif(
                gif,
                8,
                6,
                List.of(
                        new RawFrame(0, 0, 8, 6, filled(48, red), "none", 10),
                        new RawFrame(
                                2,
                                1,
                                3,
                                2,
                                new int[] {clear, green, green, green, green, green},
                                "restoreToBackgroundColor",
                                10),
                        new RawFrame(5, 3, 2, 2, filled(4, blue), "restoreToPrevious", 10),
                        new RawFrame(0, 0, 1, 1, new int[] {white}, "none", 0)));

        Frames frames = GifReader.read(gif);
        assertEquals(4, frames.count());
        assertEquals(8, frames.width());
        assertEquals(6, frames.height());

        int[] f0 = filled(48, red);
        int[] f1 = f0.clone();
        paint(f1, 2, 1, 3, 2, green);
        f1[1 * 8 + 2] = red; // transparent pixel shows the frame below
        int[] f2 = f0.clone();
        paint(f2, 2, 1, 3, 2, 0); // frame 1 restored its rectangle to background (black)
        paint(f2, 5, 3, 2, 2, blue);
        int[] f3 = f2.clone();
        paint(f3, 5, 3, 2, 2, red); // frame 2 restored what was below it
        f3[0] = white;
        assertArrayEquals(f0, slice(frames, 0), "frame 0");
        assertArrayEquals(f1, slice(frames, 1), "frame 1");
        assertArrayEquals(f2, slice(frames, 2), "frame 2");
        assertArrayEquals(f3, slice(frames, 3), "frame 3");
        // Delays 10, 10, 10 and 0 (played as 10): 4 frames in 40 cs = 10 fps.
        assertArrayEquals(new int[] {10, 10, 10, 0}, GifReader.readDelays(gif));
        assertEquals(10.0, frames.fps(), 1e-12);
    }

    @Test
    void truncatedOrCorruptGifsAreRefused() throws IOException {
        Path gif = dir.resolve("ok.gif");
        GifWriter.write(TestVideos.movingSquare(4, 32, 16, 6, 3, 8), gif, 0);
        byte[] bytes = Files.readAllBytes(gif);
        assertEquals(0x3B, bytes[bytes.length - 1], "GIF trailer");

        for (int cut : new int[] {bytes.length - 1, bytes.length - 20, bytes.length / 2, 20, 10}) {
            Path bad = dir.resolve("cut" + cut + ".gif");
            Files.write(bad, Arrays.copyOf(bytes, cut));
            IOException e = assertThrows(IOException.class, () -> GifReader.read(bad), "cut at " + cut);
            assertTrue(e.getMessage().startsWith(bad + ": truncated GIF"), e.getMessage());
            assertTrue(e.getMessage().contains("runs past the end of the file (" + cut + " bytes)"), e.getMessage());
        }

        byte[] junk = Arrays.copyOf(bytes, bytes.length);
        int firstBlock = 13 + (3 << ((bytes[10] & 7) + 1)); // after header, screen descriptor, colour table
        junk[firstBlock] = (byte) 0x99;
        Path bad = dir.resolve("junk.gif");
        Files.write(bad, junk);
        IOException e = assertThrows(IOException.class, () -> GifReader.read(bad));
        assertEquals(
                bad + ": corrupt GIF, unknown block 0x99 at byte " + firstBlock
                        + " (expected 0x21, 0x2C or trailer 0x3B)",
                e.getMessage());

        Path noFrames = dir.resolve("empty.gif");
        Files.write(noFrames, new byte[] {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0, 0x3B});
        e = assertThrows(IOException.class, () -> GifReader.read(noFrames));
        assertEquals(noFrames + ": GIF has no frames", e.getMessage());
    }

    @Test
    void decodesInterlacedFramesOfAnyHeight() throws IOException {
        // ImageIO's reader gets interlaced images under five rows wrong; ours must not.
        for (int h : new int[] {1, 2, 3, 4, 5, 9, 17}) {
            int w = 3;
            byte[] indices = new byte[w * h];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    indices[y * w + x] = (byte) ((x + 2 * y) % 3);
                }
            }
            Path gif = dir.resolve("interlaced" + h + ".gif");
            Files.write(gif, uncompressedGif(w, h, indices, true));
            Frames frames = GifReader.read(gif);
            int[] palette = {0x000000, 0x00FF00, 0xFF0000};
            for (int i = 0; i < indices.length; i++) {
                assertEquals(palette[indices[i]], frames.rgb()[i], "height " + h + " pixel " + i);
            }
        }
        assertArrayEquals(
                new int[] {0, 8, 16, 4, 12, 2, 6, 10, 14, 1, 3, 5, 7, 9, 11, 13, 15}, GifReader.rowOrder(17, true));
    }

    @Test
    void decodesFullLzwTablesExactly() throws IOException {
        // 200 colours of noise over 128x96: the LZW table fills (4096 codes) and restarts many times.
        int w = 128;
        int h = 96;
        int[] palette = new int[200];
        java.util.Random random = new java.util.Random(7);
        for (int i = 0; i < palette.length; i++) {
            palette[i] = random.nextInt(0x1000000);
        }
        int[] rgb = new int[2 * w * h];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = palette[random.nextInt(palette.length)];
        }
        Frames frames = new Frames(2, w, h, rgb, 4);
        Path gif = dir.resolve("noise.gif");
        GifWriter.write(frames, gif, 0);
        assertArrayEquals(rgb, GifReader.read(gif).rgb());
    }

    /** A one-frame GIF whose LZW stream sends each index as a literal, clearing before codes widen. */
    private static byte[] uncompressedGif(int w, int h, byte[] indices, boolean interlaced) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes("GIF89a".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        out.writeBytes(new byte[] {(byte) w, (byte) (w >> 8), (byte) h, (byte) (h >> 8), (byte) 0xF7, 0, 0});
        byte[] palette = new byte[3 * 256];
        palette[4] = (byte) 0xFF; // index 1 green
        palette[6] = (byte) 0xFF; // index 2 red
        out.writeBytes(palette);
        int[] rows = GifReader.rowOrder(h, interlaced);
        out.writeBytes(new byte[] {
            0x2C, 0, 0, 0, 0, (byte) w, (byte) (w >> 8), (byte) h, (byte) (h >> 8), (byte) (interlaced ? 0x40 : 0)
        });
        out.write(8); // LZW minimum code size: 9-bit codes, clear 256, end 257
        java.util.List<Integer> codes = new java.util.ArrayList<>();
        codes.add(256);
        int sinceClear = 0;
        for (int row : rows) { // stored row order: row r of the file is canvas row rows[r]
            for (int x = 0; x < w; x++) {
                codes.add((int) indices[row * w + x]);
                if (++sinceClear == 254) {
                    codes.add(256);
                    sinceClear = 0;
                }
            }
        }
        codes.add(257);
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        long bits = 0;
        int count = 0;
        for (int code : codes) {
            bits |= (long) code << count;
            count += 9;
            while (count >= 8) {
                data.write((int) (bits & 0xFF));
                bits >>>= 8;
                count -= 8;
            }
        }
        if (count > 0) {
            data.write((int) bits);
        }
        byte[] lzw = data.toByteArray();
        for (int i = 0; i < lzw.length; i += 255) {
            int n = Math.min(255, lzw.length - i);
            out.write(n);
            out.write(lzw, i, n);
        }
        out.write(0);
        out.write(0x3B);
        return out.toByteArray();
    }

    @Test
    void rewritingReplacesTheFileWithoutLeftovers() throws IOException {
        Path gif = dir.resolve("keep.gif");
        Files.writeString(gif, "previous content");
        GifWriter.write(TestVideos.movingSquare(2, 8, 8, 2, 1, 8), gif, 0);
        assertEquals(2, GifReader.read(gif).count());
        assertEquals(1, countFiles(), "no temporary files left");
    }

    private long countFiles() {
        try (Stream<Path> files = Files.list(dir)) {
            return files.count();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private record RawFrame(int left, int top, int width, int height, int[] rgb, String disposal, int delayCs) {}

    /** Writes an indexed GIF with explicit frame rectangles, transparency (-1) and disposal. */
    private static void writeIndexedGif(Path path, int screenW, int screenH, List<RawFrame> frames) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("gif").next();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(path.toFile())) {
            writer.setOutput(out);
            IIOMetadata stream = writer.getDefaultStreamMetadata(null);
            String streamFormat = "javax_imageio_gif_stream_1.0";
            IIOMetadataNode streamRoot = (IIOMetadataNode) stream.getAsTree(streamFormat);
            IIOMetadataNode screen = child(streamRoot, "LogicalScreenDescriptor");
            screen.setAttribute("logicalScreenWidth", Integer.toString(screenW));
            screen.setAttribute("logicalScreenHeight", Integer.toString(screenH));
            stream.setFromTree(streamFormat, streamRoot);
            writer.prepareWriteSequence(stream);
            for (RawFrame frame : frames) {
                // Palette: index 0 transparent, then the frame's colours.
                int[] palette = Arrays.stream(frame.rgb())
                        .filter(c -> c >= 0)
                        .distinct()
                        .toArray();
                byte[] r = new byte[palette.length + 1];
                byte[] g = new byte[palette.length + 1];
                byte[] b = new byte[palette.length + 1];
                for (int i = 0; i < palette.length; i++) {
                    r[i + 1] = (byte) (palette[i] >> 16);
                    g[i + 1] = (byte) (palette[i] >> 8);
                    b[i + 1] = (byte) palette[i];
                }
                IndexColorModel model = new IndexColorModel(8, palette.length + 1, r, g, b, 0);
                BufferedImage image =
                        new BufferedImage(frame.width(), frame.height(), BufferedImage.TYPE_BYTE_INDEXED, model);
                for (int i = 0; i < frame.rgb().length; i++) {
                    int colour = frame.rgb()[i];
                    int index = colour < 0 ? 0 : 1 + indexOf(palette, colour);
                    image.getRaster().setSample(i % frame.width(), i / frame.width(), 0, index);
                }
                IIOMetadata metadata = writer.getDefaultImageMetadata(new ImageTypeSpecifier(image), null);
                IIOMetadataNode root = (IIOMetadataNode) metadata.getAsTree(IMAGE_FORMAT);
                IIOMetadataNode descriptor = child(root, "ImageDescriptor");
                descriptor.setAttribute("imageLeftPosition", Integer.toString(frame.left()));
                descriptor.setAttribute("imageTopPosition", Integer.toString(frame.top()));
                IIOMetadataNode gce = child(root, "GraphicControlExtension");
                gce.setAttribute("disposalMethod", frame.disposal());
                gce.setAttribute("userInputFlag", "FALSE");
                gce.setAttribute("transparentColorFlag", "TRUE");
                gce.setAttribute("transparentColorIndex", "0");
                gce.setAttribute("delayTime", Integer.toString(frame.delayCs()));
                metadata.setFromTree(IMAGE_FORMAT, root);
                writer.writeToSequence(new IIOImage(image, null, metadata), null);
            }
            writer.endWriteSequence();
        } finally {
            writer.dispose();
        }
        GifReader.Structure structure = GifReader.readStructure(path);
        assertEquals(screenW, structure.width(), "test GIF logical screen");
        assertEquals(frames.get(1).left(), structure.images().get(1).left(), "test GIF frame offset");
    }

    private static int indexOf(int[] values, int value) {
        for (int i = 0; i < values.length; i++) {
            if (values[i] == value) {
                return i;
            }
        }
        throw new AssertionError("colour not in palette");
    }

    private static int[] filled(int n, int colour) {
        int[] a = new int[n];
        Arrays.fill(a, colour);
        return a;
    }

    private static void paint(int[] canvas, int left, int top, int w, int h, int colour) {
        for (int y = top; y < top + h; y++) {
            for (int x = left; x < left + w; x++) {
                canvas[y * 8 + x] = colour;
            }
        }
    }

    private static int[] slice(Frames frames, int f) {
        int n = frames.width() * frames.height();
        return Arrays.copyOfRange(frames.rgb(), f * n, (f + 1) * n);
    }

    private static IIOMetadataNode child(IIOMetadataNode parent, String name) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeName().equals(name)) {
                return (IIOMetadataNode) n;
            }
        }
        IIOMetadataNode node = new IIOMetadataNode(name);
        parent.appendChild(node);
        assertNotNull(node);
        return node;
    }
}
