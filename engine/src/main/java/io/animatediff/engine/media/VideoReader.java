package io.animatediff.engine.media;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Reads a video for training or video-to-video: a GIF ({@link GifReader}), an MP4/MOV with H.264
 * video ({@link Mp4Reader}) or a folder of PNG/JPEG frames ({@link PngFrames}), told apart by the
 * file's first bytes, never by its name.
 */
public final class VideoReader {
    /** Rate given to a folder of frames, which stores none: AnimateDiff's 8 fps. */
    public static final double DEFAULT_FOLDER_FPS = 8.0;

    /** ISO base media box types that can open an MP4/MOV file (offset 4). */
    private static final String[] MP4_BOXES = {"ftyp", "moov", "mdat", "free", "skip", "wide", "pnot"};

    private VideoReader() {}

    /** Which reader a path goes to. */
    public enum Kind {
        GIF,
        MP4,
        FOLDER
    }

    /** Reads all frames; a folder of frames plays at {@link #DEFAULT_FOLDER_FPS}. */
    public static Frames read(Path fileOrDir) throws IOException {
        return read(fileOrDir, DEFAULT_FOLDER_FPS);
    }

    /** Reads all frames; {@code folderFps} is the rate given to a folder of frames. */
    public static Frames read(Path fileOrDir, double folderFps) throws IOException {
        return switch (detect(fileOrDir)) {
            case GIF -> GifReader.read(fileOrDir);
            case MP4 -> Mp4Reader.read(fileOrDir);
            case FOLDER -> PngFrames.read(fileOrDir, folderFps);
        };
    }

    /** Detects the kind by folder-ness and magic bytes; unknown content gets an error quoting them. */
    public static Kind detect(Path fileOrDir) throws IOException {
        if (Files.isDirectory(fileOrDir)) {
            return Kind.FOLDER;
        }
        if (!Files.exists(fileOrDir)) {
            throw new NoSuchFileException(fileOrDir.toString(), null, "no such file or folder");
        }
        byte[] head = new byte[16];
        int n;
        try (InputStream in = Files.newInputStream(fileOrDir)) {
            n = in.readNBytes(head, 0, head.length);
        }
        String ascii = new String(head, 0, n, StandardCharsets.ISO_8859_1);
        if (ascii.startsWith("GIF87a") || ascii.startsWith("GIF89a")) {
            return Kind.GIF;
        }
        if (n >= 8) {
            String box = ascii.substring(4, 8);
            for (String type : MP4_BOXES) {
                if (type.equals(box)) {
                    return Kind.MP4;
                }
            }
        }
        throw new IOException(
                fileOrDir + ": not a GIF, MP4 or folder of frames (" + describe(head, n) + ")" + hint(head, n));
    }

    private static String describe(byte[] head, int n) {
        if (n == 0) {
            return "the file is empty";
        }
        StringBuilder hex = new StringBuilder("first bytes");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < n; i++) {
            int b = head[i] & 0xFF;
            hex.append(String.format(Locale.ROOT, " %02x", b));
            text.append(b >= 0x20 && b < 0x7F ? (char) b : '.');
        }
        return hex + " \"" + text + "\"";
    }

    /** A pointer for the common mistakes: a single image instead of a folder, a WebM/MKV video. */
    private static String hint(byte[] head, int n) {
        int b0 = n > 0 ? head[0] & 0xFF : -1;
        int b1 = n > 1 ? head[1] & 0xFF : -1;
        if (n >= 4 && b0 == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G') {
            return ": this is a single PNG image; put the frames in a folder and pass the folder";
        }
        if (b0 == 0xFF && b1 == 0xD8) {
            return ": this is a single JPEG image; put the frames in a folder and pass the folder";
        }
        if (n >= 4 && b0 == 0x1A && b1 == 0x45 && (head[2] & 0xFF) == 0xDF && (head[3] & 0xFF) == 0xA3) {
            return ": this is WebM/Matroska; convert it with ffmpeg -i in.webm -c:v libx264 -pix_fmt yuv420p out.mp4";
        }
        return "";
    }
}
