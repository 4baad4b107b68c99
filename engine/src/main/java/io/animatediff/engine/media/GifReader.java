package io.animatediff.engine.media;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads an animated GIF into {@link Frames}, compositing every frame onto the logical screen the way
 * browsers play it: partial frames are drawn at their offset, transparent pixels keep what is below,
 * and each frame's disposal method (keep, restore to background, restore to previous) is applied
 * before the next frame. Areas never painted, and areas restored to background, are black (GIF
 * "background" is transparent in browsers; our frames have no alpha). Frames reaching past the
 * logical screen are clipped to it; a file declaring no screen size uses the first frame's extent.
 *
 * <p>The block structure is checked first: a file without its trailer (0x3B) or whose blocks run past
 * the end is refused as truncated (ImageIO would silently return fewer or partial frames). Pixels are
 * decoded here too, not by ImageIO, whose reader misplaces the rows of interlaced images less than
 * five rows high (partial frames of optimised GIFs).
 *
 * <p>Frame rate: GIF delays are per frame, {@link Frames} has one rate, so {@code fps = 100 * frames /
 * sum(delays in cs)}; delays of 0 or 1 cs count as 10 cs, as browsers play them.
 */
public final class GifReader {
    /** Delay browsers use for frames that declare 0 or 1 cs. */
    public static final int BROWSER_DEFAULT_DELAY_CS = 10;

    private static final int DISPOSE_TO_BACKGROUND = 2;
    private static final int DISPOSE_TO_PREVIOUS = 3;

    private GifReader() {}

    /** One image of the file: its rectangle on the logical screen and its graphic control values. */
    public record Image(int left, int top, int width, int height, int delayCs, int disposal) {}

    /**
     * The parsed block structure of a GIF.
     *
     * @param width logical screen width (0 when the file declares none)
     * @param height logical screen height (0 when the file declares none)
     * @param loopCount NETSCAPE2.0 loop count (0 = forever), or -1 when the file has no loop block
     */
    public record Structure(int width, int height, List<Image> images, int loopCount) {
        /** Stored per-frame delays in centiseconds (0 where a frame has no graphic control block). */
        public int[] delaysCs() {
            return images.stream().mapToInt(Image::delayCs).toArray();
        }

        /** Playback rate: 100 * frames / sum(delays), delays of 0 or 1 cs counted as 10 cs. */
        public double fps() {
            long total = 0;
            for (Image image : images) {
                total += image.delayCs() <= 1 ? BROWSER_DEFAULT_DELAY_CS : image.delayCs();
            }
            return 100.0 * images.size() / total;
        }
    }

    /** Stored per-frame delays in centiseconds. */
    public static int[] readDelays(Path path) throws IOException {
        return parse(path, Files.readAllBytes(path)).delaysCs();
    }

    /** The block structure (sizes, delays, disposal, loop count), validated, without decoding pixels. */
    public static Structure readStructure(Path path) throws IOException {
        return parse(path, Files.readAllBytes(path));
    }

    /** All frames, composited onto the logical screen, with the rate derived from the delays. */
    public static Frames read(Path path) throws IOException {
        byte[] bytes = Files.readAllBytes(path);
        Parsed parsed = parseBlocks(path, bytes);
        Structure structure = parsed.structure();
        List<Image> images = structure.images();
        Image first = images.get(0);
        int width = structure.width() > 0 ? structure.width() : first.left() + first.width();
        int height = structure.height() > 0 ? structure.height() : first.top() + first.height();
        long pixels = (long) images.size() * width * height;
        if (pixels > Integer.MAX_VALUE - 8) {
            throw new IOException(String.format(
                    "%s: GIF has %d frames of %dx%d, too many pixels for one Java array",
                    path, images.size(), width, height));
        }
        int[] rgb = new int[(int) pixels]; // (F, H, W)
        int[] canvas = new int[width * height]; // (H, W), black until painted
        int[] saved = new int[width * height];
        for (int i = 0; i < images.size(); i++) {
            Image image = images.get(i);
            ImageBlock block = parsed.blocks().get(i);
            if (image.disposal() == DISPOSE_TO_PREVIOUS) {
                System.arraycopy(canvas, 0, saved, 0, canvas.length);
            }
            byte[] indices = new byte[image.width() * image.height()];
            int decoded = decodeLzw(path, bytes, block.lzwOffset(), indices, i);
            paint(canvas, width, height, image, block, bytes, indices, decoded);
            System.arraycopy(canvas, 0, rgb, i * canvas.length, canvas.length);
            dispose(canvas, saved, width, height, image);
        }
        return new Frames(images.size(), width, height, rgb, structure.fps());
    }

    /**
     * Draws the first {@code decoded} pixels of the frame (rows de-interlaced) at its offset, clipped to
     * the canvas; the transparent index keeps what is below, indices past the palette are black.
     */
    private static void paint(
            int[] canvas,
            int width,
            int height,
            Image image,
            ImageBlock block,
            byte[] bytes,
            byte[] indices,
            int decoded) {
        int[] palette = new int[256];
        for (int i = 0; i < block.paletteEntries(); i++) {
            int o = block.paletteOffset() + 3 * i;
            palette[i] = ((bytes[o] & 0xFF) << 16) | ((bytes[o + 1] & 0xFF) << 8) | (bytes[o + 2] & 0xFF);
        }
        int w = image.width();
        int[] rowOf = rowOrder(image.height(), block.interlaced());
        for (int i = 0; i < decoded; i++) {
            int index = indices[i] & 0xFF;
            if (index == block.transparentIndex()) {
                continue;
            }
            int cy = image.top() + rowOf[i / w];
            int cx = image.left() + i % w;
            if (cx < width && cy < height) {
                canvas[cy * width + cx] = palette[index];
            }
        }
    }

    /** Canvas row of each stored row: identity, or GIF's four interlace passes (0, 4, 2, 1 mod 8, 8, 4, 2). */
    static int[] rowOrder(int rows, boolean interlaced) {
        int[] order = new int[rows];
        if (!interlaced) {
            for (int r = 0; r < rows; r++) {
                order[r] = r;
            }
            return order;
        }
        int n = 0;
        int[][] passes = {{0, 8}, {4, 8}, {2, 4}, {1, 2}};
        for (int[] pass : passes) {
            for (int r = pass[0]; r < rows; r += pass[1]) {
                order[n++] = r;
            }
        }
        return order;
    }

    /** Applies the frame's disposal method to its rectangle before the next frame. */
    private static void dispose(int[] canvas, int[] saved, int width, int height, Image image) {
        if (image.disposal() != DISPOSE_TO_BACKGROUND && image.disposal() != DISPOSE_TO_PREVIOUS) {
            return;
        }
        int x1 = Math.min(width, image.left() + image.width());
        int y1 = Math.min(height, image.top() + image.height());
        for (int y = image.top(); y < y1; y++) {
            for (int x = image.left(); x < x1; x++) {
                int i = y * width + x;
                canvas[i] = image.disposal() == DISPOSE_TO_BACKGROUND ? 0 : saved[i];
            }
        }
    }

    /**
     * Decodes the LZW pixel data starting at {@code offset} (the code-size byte, then sub-blocks) into
     * {@code out}; returns how many pixels the data held. Extra pixels are dropped; a stream that ends
     * early leaves the rest of the frame unpainted, as browsers do.
     */
    static int decodeLzw(Path path, byte[] b, int offset, byte[] out, int frame) throws IOException {
        int minCodeSize = b[offset] & 0xFF;
        if (minCodeSize < 1 || minCodeSize > 8) {
            throw new IOException(path + ": corrupt GIF, frame " + frame + " has LZW code size " + minCodeSize
                    + " (expected 2 to 8)");
        }
        int clear = 1 << minCodeSize;
        int end = clear + 1;
        short[] prefix = new short[4096];
        byte[] suffix = new byte[4096];
        byte[] firstByte = new byte[4096];
        short[] length = new short[4096];
        for (int c = 0; c < clear; c++) {
            suffix[c] = (byte) c;
            firstByte[c] = (byte) c;
            length[c] = 1;
        }
        int codeSize = minCodeSize + 1;
        int next = clear + 2;
        int old = -1;
        int n = 0;

        int pos = offset + 1; // first sub-block length
        int blockEnd = pos; // data of the current sub-block ends here
        long bits = 0;
        int bitCount = 0;
        while (true) {
            while (bitCount < codeSize) {
                if (pos == blockEnd) {
                    int size = b[pos] & 0xFF; // the structure walk checked every sub-block fits
                    if (size == 0) {
                        return n; // data ended without an end code
                    }
                    pos++;
                    blockEnd = pos + size;
                }
                bits |= (long) (b[pos++] & 0xFF) << bitCount;
                bitCount += 8;
            }
            int code = (int) (bits & ((1 << codeSize) - 1));
            bits >>>= codeSize;
            bitCount -= codeSize;

            if (code == clear) {
                codeSize = minCodeSize + 1;
                next = clear + 2;
                old = -1;
                continue;
            }
            if (code == end) {
                return n;
            }
            if (old == -1) {
                if (code >= clear) {
                    throw new IOException(path + ": corrupt GIF, frame " + frame + " LZW data starts with code " + code
                            + " (expected a colour index below " + clear + ")");
                }
                n = emit(out, n, code, prefix, suffix, length);
                old = code;
                continue;
            }
            byte head;
            if (code < next) {
                head = firstByte[code];
                n = emit(out, n, code, prefix, suffix, length);
            } else if (code == next) {
                head = firstByte[old];
                n = emit(out, n, old, prefix, suffix, length);
                if (n < out.length) {
                    out[n] = head;
                }
                n = Math.min(out.length, n + 1);
            } else {
                throw new IOException(path + ": corrupt GIF, frame " + frame + " LZW code " + code
                        + " is past the table (" + next + " entries)");
            }
            if (next < 4096) {
                prefix[next] = (short) old;
                suffix[next] = head;
                firstByte[next] = firstByte[old];
                length[next] = (short) (length[old] + 1);
                next++;
                if (next == (1 << codeSize) && codeSize < 12) {
                    codeSize++;
                }
            }
            old = code;
        }
    }

    /** Writes the string of {@code code} at {@code out[n..]}, clipped to the frame; returns the new n. */
    private static int emit(byte[] out, int n, int code, short[] prefix, byte[] suffix, short[] length) {
        int len = length[code];
        int c = code;
        for (int i = len - 1; i >= 0; i--) {
            if (n + i < out.length) {
                out[n + i] = suffix[c];
            }
            c = prefix[c];
        }
        return Math.min(out.length, n + len);
    }

    /** Where one image's palette and pixel data lie in the file, and how to read them. */
    private record ImageBlock(
            int paletteOffset, int paletteEntries, int lzwOffset, boolean interlaced, int transparentIndex) {}

    private record Parsed(Structure structure, List<ImageBlock> blocks) {}

    static Structure parse(Path path, byte[] b) throws IOException {
        return parseBlocks(path, b).structure();
    }

    /** Walks the GIF89a block structure; refuses a wrong signature, unknown blocks and truncation. */
    private static Parsed parseBlocks(Path path, byte[] b) throws IOException {
        Cursor c = new Cursor(path, b);
        String signature = new String(b, 0, Math.min(6, b.length), StandardCharsets.ISO_8859_1);
        if (!signature.equals("GIF87a") && !signature.equals("GIF89a")) {
            throw new IOException(path + ": not a GIF (signature '" + signature.replaceAll("[^ -~]", "?")
                    + "', expected GIF87a or GIF89a)");
        }
        c.skip(6, "header");
        int screenWidth = c.u16("logical screen descriptor");
        int screenHeight = c.u16("logical screen descriptor");
        int packed = c.u8("logical screen descriptor");
        c.skip(2, "logical screen descriptor");
        int globalOffset = -1;
        int globalEntries = 0;
        if ((packed & 0x80) != 0) {
            globalOffset = c.pos;
            globalEntries = 1 << ((packed & 7) + 1);
            c.skip(3 * globalEntries, "global colour table");
        }
        List<Image> images = new ArrayList<>();
        List<ImageBlock> blocks = new ArrayList<>();
        int loopCount = -1;
        int delay = 0;
        int disposal = 0;
        int transparent = -1;
        while (true) {
            int blockStart = c.pos;
            int introducer = c.u8("next block (no trailer 0x3B)");
            if (introducer == 0x3B) {
                break;
            } else if (introducer == 0x21) {
                int label = c.u8("extension label");
                if (label == 0xF9) {
                    int size = c.u8("graphic control extension");
                    if (size < 4) {
                        throw new IOException(path + ": corrupt GIF, graphic control block at byte " + blockStart
                                + " has size " + size + ", expected 4");
                    }
                    int gcePacked = c.u8("graphic control extension");
                    delay = c.u16("graphic control extension");
                    int transparentIndex = c.u8("graphic control extension");
                    c.skip(size - 4, "graphic control extension");
                    disposal = (gcePacked >> 2) & 7;
                    transparent = (gcePacked & 1) != 0 ? transparentIndex : -1;
                    c.skipSubBlocks("graphic control extension");
                } else if (label == 0xFF) {
                    int size = c.u8("application extension");
                    String id = c.ascii(size, "application extension");
                    int loop = c.netscapeLoop(id);
                    if (loop >= 0) {
                        loopCount = loop;
                    }
                } else {
                    c.skipSubBlocks("extension 0x" + Integer.toHexString(label));
                }
            } else if (introducer == 0x2C) {
                String what = "image " + images.size();
                int left = c.u16(what + " descriptor");
                int top = c.u16(what + " descriptor");
                int w = c.u16(what + " descriptor");
                int h = c.u16(what + " descriptor");
                int imagePacked = c.u8(what + " descriptor");
                int paletteOffset = globalOffset;
                int paletteEntries = globalEntries;
                if ((imagePacked & 0x80) != 0) {
                    paletteOffset = c.pos;
                    paletteEntries = 1 << ((imagePacked & 7) + 1);
                    c.skip(3 * paletteEntries, what + " local colour table");
                }
                int lzwOffset = c.pos;
                c.u8(what + " LZW code size");
                c.skipSubBlocks(what + " pixel data");
                if (w == 0 || h == 0) {
                    throw new IOException(path + ": corrupt GIF, " + what + " at byte " + blockStart
                            + " has an empty size " + w + "x" + h);
                }
                if (paletteOffset < 0) {
                    throw new IOException(path + ": corrupt GIF, " + what + " at byte " + blockStart
                            + " has no colour table (neither global nor local)");
                }
                images.add(new Image(left, top, w, h, delay, disposal));
                blocks.add(new ImageBlock(
                        paletteOffset, paletteEntries, lzwOffset, (imagePacked & 0x40) != 0, transparent));
                delay = 0;
                disposal = 0;
                transparent = -1;
            } else {
                throw new IOException(String.format(
                        "%s: corrupt GIF, unknown block 0x%02X at byte %d (expected 0x21, 0x2C or trailer 0x3B)",
                        path, introducer, blockStart));
            }
        }
        if (images.isEmpty()) {
            throw new IOException(path + ": GIF has no frames");
        }
        return new Parsed(
                new Structure(screenWidth, screenHeight, List.copyOf(images), loopCount), List.copyOf(blocks));
    }

    /** Bounds-checked little-endian reads over the file bytes. */
    private static final class Cursor {
        private final Path path;
        private final byte[] b;
        private int pos;

        Cursor(Path path, byte[] b) {
            this.path = path;
            this.b = b;
        }

        private void need(int n, String what) throws IOException {
            if (n < 0 || pos + (long) n > b.length) {
                throw new IOException(String.format(
                        "%s: truncated GIF, %s at byte %d runs past the end of the file (%d bytes):"
                                + " the file is cut short, re-download or re-export it",
                        path, what, pos, b.length));
            }
        }

        int u8(String what) throws IOException {
            need(1, what);
            return b[pos++] & 0xFF;
        }

        int u16(String what) throws IOException {
            need(2, what);
            int v = (b[pos] & 0xFF) | ((b[pos + 1] & 0xFF) << 8);
            pos += 2;
            return v;
        }

        void skip(int n, String what) throws IOException {
            need(n, what);
            pos += n;
        }

        String ascii(int n, String what) throws IOException {
            need(n, what);
            String s = new String(b, pos, n, StandardCharsets.ISO_8859_1);
            pos += n;
            return s;
        }

        /** Skips data sub-blocks up to and including the zero-length terminator. */
        void skipSubBlocks(String what) throws IOException {
            int size;
            while ((size = u8(what)) != 0) {
                skip(size, what);
            }
        }

        /** Reads the sub-blocks of an application extension; returns its loop count or -1. */
        int netscapeLoop(String id) throws IOException {
            int loop = -1;
            boolean netscape = id.equals("NETSCAPE2.0") || id.equals("ANIMEXTS1.0");
            int size;
            while ((size = u8("application extension " + id)) != 0) {
                int start = pos;
                skip(size, "application extension " + id);
                if (netscape && size >= 3 && b[start] == 1) {
                    loop = (b[start + 1] & 0xFF) | ((b[start + 2] & 0xFF) << 8);
                }
            }
            return loop;
        }
    }
}
