package io.animatediff.engine.media;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;

/**
 * A folder of frames: written as lossless {@code frame_0000.png, frame_0001.png, ...}; read from
 * any {@code .png}, {@code .jpg} or {@code .jpeg} files, ordered by name with digit runs compared
 * as numbers ({@code 2.png} before {@code 10.png}), other and hidden files ignored.
 */
public final class PngFrames {
    private static final Pattern FRAME_FILE = Pattern.compile("frame_\\d{4,}\\.png");

    private PngFrames() {}

    /** Name of frame {@code i}: {@code frame_0000.png} (more digits past 9999). */
    public static String fileName(int i) {
        return String.format(Locale.ROOT, "frame_%04d.png", i);
    }

    /**
     * Writes one PNG per frame into {@code dir} and returns their paths in frame order. The frames are
     * written into a hidden temporary folder next to {@code dir}, then renamed to {@code dir}, so the
     * folder appears complete or not at all. An existing {@code dir} must be empty or hold only a
     * previous output ({@code frame_NNNN.png} files), which is replaced as a whole.
     */
    public static List<Path> write(Frames frames, Path dir) throws IOException {
        if (frames == null) {
            throw new IllegalArgumentException("png: frames are null");
        }
        Path target = dir.toAbsolutePath().normalize();
        boolean replace = checkTarget(target);
        Files.createDirectories(target.getParent());
        Path tmp = Files.createDirectory(AtomicFiles.temporarySibling(target));
        try {
            for (int i = 0; i < frames.count(); i++) {
                Path file = tmp.resolve(fileName(i));
                if (!ImageIO.write(frames.frame(i), "png", file.toFile())) {
                    throw new IOException("png: this JDK has no ImageIO PNG writer (java.desktop module missing?)");
                }
            }
            if (replace) {
                Path old = AtomicFiles.temporarySibling(target);
                AtomicFiles.move(target, old);
                AtomicFiles.move(tmp, target);
                AtomicFiles.deleteTree(old);
            } else {
                AtomicFiles.move(tmp, target);
            }
        } catch (IOException | RuntimeException | Error e) {
            AtomicFiles.deleteQuietly(tmp, e);
            throw e;
        }
        List<Path> written = new ArrayList<>(frames.count());
        for (int i = 0; i < frames.count(); i++) {
            written.add(target.resolve(fileName(i)));
        }
        return written;
    }

    /** True when {@code target} holds a previous output to replace; refuses anything else there. */
    private static boolean checkTarget(Path target) throws IOException {
        if (!Files.exists(target)) {
            return false;
        }
        if (!Files.isDirectory(target)) {
            throw new IOException(target + ": exists and is not a folder: choose a new folder for the PNG frames");
        }
        boolean any = false;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(target)) {
            for (Path entry : entries) {
                any = true;
                if (!FRAME_FILE.matcher(entry.getFileName().toString()).matches()) {
                    throw new IOException(target + ": folder already holds " + entry.getFileName()
                            + ", which is not a frame of a previous output: choose a new or empty folder");
                }
            }
        }
        return any;
    }

    /**
     * Reads the frames of {@code dir} (see the class comment for which files and in which order). All
     * frames must have one size; alpha is dropped, grey images are expanded to grey RGB.
     */
    public static Frames read(Path dir, double fps) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + ": not a folder of frames");
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                String lower = name.toLowerCase(Locale.ROOT);
                boolean image = lower.endsWith(".png") || lower.endsWith(".jpg") || lower.endsWith(".jpeg");
                if (image && !name.startsWith(".") && Files.isRegularFile(entry)) {
                    files.add(entry);
                }
            }
        }
        if (files.isEmpty()) {
            throw new IOException(dir + ": folder holds no .png, .jpg or .jpeg frames");
        }
        files.sort((a, b) ->
                compareNatural(a.getFileName().toString(), b.getFileName().toString()));

        int[] rgb = null; // (F, H, W)
        int width = 0;
        int height = 0;
        for (int f = 0; f < files.size(); f++) {
            Path file = files.get(f);
            BufferedImage image = readImage(file);
            if (f == 0) {
                width = image.getWidth();
                height = image.getHeight();
                long pixels = (long) files.size() * width * height;
                if (pixels > Integer.MAX_VALUE - 8) {
                    throw new IOException(String.format(
                            "%s: %d frames of %dx%d are too many pixels for one Java array: use fewer frames",
                            dir, files.size(), width, height));
                }
                rgb = new int[(int) pixels];
            } else if (image.getWidth() != width || image.getHeight() != height) {
                throw new IOException(String.format(
                        "%s: frame is %dx%d but the first frame %s is %dx%d: all frames must have one size",
                        file, image.getWidth(), image.getHeight(), files.get(0).getFileName(), width, height));
            }
            toRgb(image, rgb, f * width * height);
        }
        return new Frames(files.size(), width, height, rgb, fps);
    }

    private static BufferedImage readImage(Path file) throws IOException {
        BufferedImage image;
        try {
            image = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new IOException(file + ": corrupt or unsupported image (" + e.getMessage() + ")", e);
        }
        if (image == null) {
            throw new IOException(file + ": not a readable PNG or JPEG image");
        }
        return image;
    }

    /**
     * Packs {@code image} into {@code dst[offset..]} as 0xRRGGBB. Grey images are read from their
     * samples directly: {@link BufferedImage#getRGB} would pass them through a linear-grey colour
     * conversion and brighten them.
     */
    static void toRgb(BufferedImage image, int[] dst, int offset) {
        int w = image.getWidth();
        int h = image.getHeight();
        if (image.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY) {
            Raster raster = image.getRaster();
            int bits = image.getColorModel().getComponentSize(0);
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                raster.getSamples(0, y, w, 1, 0, row);
                for (int x = 0; x < w; x++) {
                    int v = bits == 8 ? row[x] : (int) Math.round(row[x] * 255.0 / ((1 << bits) - 1));
                    dst[offset + y * w + x] = (v << 16) | (v << 8) | v;
                }
            }
            return;
        }
        image.getRGB(0, 0, w, h, dst, offset, w);
        for (int i = offset; i < offset + w * h; i++) {
            dst[i] &= 0xFFFFFF;
        }
    }

    /** Orders names with digit runs compared by value: frame_2 < frame_10; ties fall back to text. */
    static int compareNatural(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            char ca = a.charAt(i);
            char cb = b.charAt(j);
            if (Character.isDigit(ca) && Character.isDigit(cb)) {
                int si = i;
                int sj = j;
                while (i < a.length() && Character.isDigit(a.charAt(i))) {
                    i++;
                }
                while (j < b.length() && Character.isDigit(b.charAt(j))) {
                    j++;
                }
                String da = a.substring(si, i).replaceFirst("^0+(?=.)", "");
                String db = b.substring(sj, j).replaceFirst("^0+(?=.)", "");
                int c = da.length() != db.length() ? Integer.compare(da.length(), db.length()) : da.compareTo(db);
                if (c != 0) {
                    return c;
                }
            } else {
                if (ca != cb) {
                    return Character.compare(ca, cb);
                }
                i++;
                j++;
            }
        }
        int c = Integer.compare(a.length() - i, b.length() - j);
        return c != 0 ? c : a.compareTo(b);
    }
}
