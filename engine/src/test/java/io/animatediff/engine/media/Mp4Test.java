package io.animatediff.engine.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.jcodec.api.FrameGrab;
import org.jcodec.api.JCodecException;
import org.jcodec.codecs.h264.H264Utils;
import org.jcodec.codecs.h264.io.model.SeqParameterSet;
import org.jcodec.codecs.h264.io.model.VUIParameters;
import org.jcodec.common.DemuxerTrackMeta;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Picture;
import org.jcodec.common.model.Rational;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Mp4Test {
    @TempDir
    Path dir;

    @Test
    void frameGrabDecodesWhatWeWrite() throws IOException, JCodecException {
        // 72x40: neither side a multiple of 16, so the stream is cropped from 80x48 macroblocks.
        Frames frames = TestVideos.movingSquare(10, 72, 40, 16, 4, 8.0);
        Path mp4 = dir.resolve("square.mp4");
        Mp4Writer.write(frames, mp4);

        List<Picture> pictures = new ArrayList<>();
        try (FileChannelWrapper ch = NIOUtils.readableChannel(mp4.toFile())) {
            FrameGrab grab = FrameGrab.createFrameGrab(ch);
            DemuxerTrackMeta meta = grab.getVideoTrack().getMeta();
            assertEquals(10, meta.getTotalFrames());
            assertEquals(10 / 8.0, meta.getTotalDuration(), 1e-9);
            SeqParameterSet sps = H264Utils.readSPS(
                    H264Utils.getRawSPS(meta.getCodecPrivate()).get(0));
            VUIParameters vui = sps.vuiParams;
            assertNotNull(vui, "stream declares its colour");
            assertTrue(vui.videoSignalTypePresentFlag && vui.colourDescriptionPresentFlag);
            assertEquals(false, vui.videoFullRangeFlag);
            assertEquals(1, vui.matrixCoefficients);
            assertEquals(1, vui.colourPrimaries);
            assertTrue(vui.chromaLocInfoPresentFlag);
            assertEquals(1, vui.chromaSampleLocTypeTopField);
            assertEquals(40, sps.levelIdc);
            Picture p;
            while ((p = grab.getNativeFrame()) != null) {
                assertEquals(72, p.getCroppedWidth());
                assertEquals(40, p.getCroppedHeight());
                pictures.add(p.cloneCropped());
            }
        }
        assertEquals(10, pictures.size());
        // Limited-range BT.709 luma of the flat background 0x2040C0, read straight from the Y plane:
        // Y = 16 + 219/255 * (0.2126*32 + 0.7152*64 + 0.0722*192) = 73.06.
        Picture first = pictures.get(0);
        int y = first.getPlaneData(0)[0] + 128;
        assertTrue(Math.abs(y - 73) <= 2, "background luma " + y);
    }

    @Test
    void roundTripWithinCodecTolerance() throws IOException {
        Frames frames = TestVideos.movingSquare(12, 96, 64, 24, 6, 8.0);
        Path mp4 = dir.resolve("square.mp4");
        Mp4Writer.write(frames, mp4);
        Frames back = Mp4Reader.read(mp4);
        assertEquals(12, back.count());
        assertEquals(96, back.width());
        assertEquals(64, back.height());
        assertEquals(8.0, back.fps(), 1e-9);
        int max = 0;
        int maxInterior = 0;
        long sum = 0;
        for (int f = 0; f < 12; f++) {
            for (int yy = 0; yy < 64; yy++) {
                for (int x = 0; x < 96; x++) {
                    int i = (f * 64 + yy) * 96 + x;
                    int d = TestVideos.channelDiff(frames.rgb()[i], back.rgb()[i]);
                    max = Math.max(max, d);
                    sum += d;
                    if (!nearEdge(f, x, yy, 24, 6, 64)) {
                        maxInterior = Math.max(maxInterior, d);
                    }
                }
            }
        }
        double mean = sum / (12.0 * 64 * 96);
        System.out.printf(
                "mp4 round trip: max %d, max away from edges %d, mean %.3f, %d bytes%n",
                max, maxInterior, mean, Files.size(mp4));
        // Measured: up to 127 on the one-pixel ring around the square, where upsampled chroma blends
        // yellow and blue (as in any 4:2:0 player), 3 in flat areas, mean 3.4.
        assertTrue(maxInterior <= 5, "flat areas within 5/255: " + maxInterior);
        assertTrue(mean <= 4.5, "mean channel error " + mean);
    }

    @Test
    void smoothGradientsStayClose() throws IOException {
        // Generated frames are mostly smooth; JCodec's intra coding of gradients degrades abruptly above
        // QP 15, which this guards against.
        int f = 4;
        int h = 64;
        int w = 96;
        float[] chw = new float[f * 3 * h * w]; // (F, 3, H, W)
        for (int i = 0; i < f; i++) {
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        chw[((i * 3 + c) * h + y) * w + x] =
                                (float) (0.5 + 0.3 * Math.sin((x + 4 * i) * 0.05 * (c + 1)) * Math.cos(y * 0.04));
                    }
                }
            }
        }
        Frames frames = Frames.fromFloatCHW(chw, f, h, w, 8);
        // Reference: the colour conversion and 4:2:0 subsampling alone, without the codec.
        Picture yuv = Picture.create(w, h, ColorSpace.YUV420J);
        YCbCr.toYuv420(frames, 0, yuv, YCbCr.Matrix.BT709);
        int[] converted = new int[w * h];
        YCbCr.toRgb(yuv, converted, 0, YCbCr.Matrix.BT709, false);
        double conversion = meanError(frames.rgb(), converted, w * h);

        Path mp4 = dir.resolve("smooth.mp4");
        Mp4Writer.write(frames, mp4);
        double codec = meanError(frames.rgb(), Mp4Reader.read(mp4).rgb(), frames.rgb().length);
        Mp4Writer.write(frames, mp4, 20);
        double qp20 = meanError(frames.rgb(), Mp4Reader.read(mp4).rgb(), frames.rgb().length);
        System.out.printf(
                "mp4 smooth gradients, mean max-channel error: conversion only %.3f, QP %d %.3f, QP 20 %.3f%n",
                conversion, Mp4Writer.QP, codec, qp20);
        // Measured: conversion 0.83, QP 14 1.89, QP 20 3.17.
        assertTrue(codec <= conversion + 1.5, "codec adds " + (codec - conversion) + " to " + conversion);
    }

    private static double meanError(int[] expected, int[] actual, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) {
            sum += TestVideos.channelDiff(expected[i], actual[i]);
        }
        return (double) sum / n;
    }

    @Test
    void fractionalAndNtscRatesSurvive() throws IOException {
        Frames frames = TestVideos.movingSquare(6, 32, 32, 8, 2, 7.5);
        Path mp4 = dir.resolve("slow.mp4");
        Mp4Writer.write(frames, mp4);
        assertEquals(7.5, Mp4Reader.read(mp4).fps(), 1e-9);

        Frames ntsc = TestVideos.movingSquare(4, 32, 32, 8, 2, 30000.0 / 1001);
        Mp4Writer.write(ntsc, mp4);
        assertEquals(30000.0 / 1001, Mp4Reader.read(mp4).fps(), 1e-9);
    }

    @Test
    void frameRateAsRational() {
        assertRational(8, 1, Mp4Writer.frameRate(8));
        assertRational(15, 2, Mp4Writer.frameRate(7.5));
        assertRational(30000, 1001, Mp4Writer.frameRate(30000.0 / 1001));
        assertRational(24000, 1001, Mp4Writer.frameRate(23.976023976023978));
        assertRational(2469, 200, Mp4Writer.frameRate(12.345)); // 12345/1000 reduced
        assertRational(333, 1000, Mp4Writer.frameRate(1.0 / 3)); // other rates round to 1/1000
    }

    @Test
    void levelFitsTheFrameSizeAndRate() {
        assertEquals(40, Mp4Writer.level(512, 512, 8));
        assertEquals(40, Mp4Writer.level(1920, 1080, 30));
        assertEquals(42, Mp4Writer.level(1920, 1080, 60));
        assertEquals(51, Mp4Writer.level(3840, 2160, 30));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Mp4Writer.level(8192, 8192, 8));
        assertTrue(e.getMessage().contains("exceeds H.264 level 5.2"), e.getMessage());
    }

    @Test
    void oddSizesAreRefusedBeforeWriting() {
        Frames odd = TestVideos.movingSquare(2, 33, 32, 8, 2, 8);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Mp4Writer.write(odd, dir.resolve("odd.mp4")));
        assertEquals(
                "mp4: H.264 4:2:0 needs even width and height, got 33x32: generate an even size, or write"
                        + " GIF or PNG frames",
                e.getMessage());
        assertEquals(0, listDir().size(), "nothing written");
    }

    @Test
    void indexComesFirstAndNoTemporaryFileRemains() throws IOException {
        Path mp4 = dir.resolve("web.mp4");
        Mp4Writer.write(TestVideos.movingSquare(20, 64, 48, 8, 2, 8), mp4);
        assertEquals(List.of(mp4), listDir());
        List<String> boxes = topLevelBoxes(Files.readAllBytes(mp4));
        assertEquals("ftyp", boxes.get(0), boxes.toString());
        assertTrue(boxes.indexOf("moov") >= 0 && boxes.indexOf("moov") < boxes.indexOf("mdat"), boxes.toString());
    }

    @Test
    void truncatedAndCorruptFilesGiveClearErrors() throws IOException {
        Path mp4 = dir.resolve("ok.mp4");
        Mp4Writer.write(TestVideos.movingSquare(8, 64, 48, 8, 2, 8), mp4);
        byte[] bytes = Files.readAllBytes(mp4);
        for (int cut : new int[] {bytes.length * 3 / 4, bytes.length / 2, 600, 40}) {
            Path bad = dir.resolve("cut" + cut + ".mp4");
            Files.write(bad, Arrays.copyOf(bytes, cut));
            IOException e = assertThrows(IOException.class, () -> Mp4Reader.read(bad), "cut at " + cut);
            assertTrue(e.getMessage().startsWith(bad + ": truncated MP4, box '"), e.getMessage());
            assertTrue(
                    e.getMessage()
                            .endsWith("but the file ends at byte " + cut
                                    + ": the file is cut short, re-download or re-export it"),
                    e.getMessage());
        }
        // A finished-looking file without its index.
        Path noIndex = dir.resolve("noindex.mp4");
        Files.write(noIndex, Arrays.copyOf(bytes, 32)); // just the 'ftyp' box
        assertEquals(List.of("ftyp"), topLevelBoxes(Files.readAllBytes(noIndex)));
        IOException e = assertThrows(IOException.class, () -> Mp4Reader.read(noIndex));
        assertEquals(
                noIndex + ": MP4 has no 'moov' index box: the recording was never finished or the file is"
                        + " not an MP4",
                e.getMessage());
        // A box declaring an impossible size.
        byte[] broken = bytes.clone();
        broken[32] = 0;
        broken[33] = 0;
        broken[34] = 0;
        broken[35] = 4;
        Path bad = dir.resolve("broken.mp4");
        Files.write(bad, broken);
        e = assertThrows(IOException.class, () -> Mp4Reader.read(bad));
        assertEquals(bad + ": corrupt MP4, box 'moov' at byte 32 declares 4 bytes", e.getMessage());
    }

    private List<Path> listDir() {
        try (Stream<Path> files = Files.list(dir)) {
            return files.toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Types of the top-level ISO-BMFF boxes, in file order. */
    private static List<String> topLevelBoxes(byte[] file) {
        List<String> types = new ArrayList<>();
        ByteBuffer buf = ByteBuffer.wrap(file);
        while (buf.remaining() >= 8) {
            int start = buf.position();
            long size = buf.getInt() & 0xFFFFFFFFL;
            byte[] type = new byte[4];
            buf.get(type);
            types.add(new String(type, java.nio.charset.StandardCharsets.ISO_8859_1));
            if (size == 1) {
                size = buf.getLong();
            } else if (size == 0) {
                break;
            }
            buf.position((int) (start + size));
        }
        return types;
    }

    private static void assertRational(int num, int den, Rational r) {
        assertEquals(num + "/" + den, r.getNum() + "/" + r.getDen());
    }

    private static boolean nearEdge(int f, int x, int y, int side, int step, int height) {
        for (int dy = -2; dy <= 2; dy++) {
            for (int dx = -2; dx <= 2; dx++) {
                if (TestVideos.inSquare(f, x + dx, y + dy, side, step, height)
                        != TestVideos.inSquare(f, x, y, side, step, height)) {
                    return true;
                }
            }
        }
        return false;
    }
}
