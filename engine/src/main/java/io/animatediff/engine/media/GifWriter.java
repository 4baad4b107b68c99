package io.animatediff.engine.media;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;

/**
 * Animated GIF through the JDK's ImageIO GIF writer: one image per frame, each with its own palette
 * (the writer's octree quantiser, no dithering: up to 256 colours per frame, exact for frames with
 * fewer colours), a GraphicControlExtension carrying the delay and a NETSCAPE2.0 loop block.
 *
 * <p>Delays: GIF stores them in whole centiseconds. Frame {@code i} lasts {@code round(100 (i+1) /
 * fps) - round(100 i / fps)} cs (half up), so the rounding error never accumulates: at 8 fps the
 * delays alternate 13, 12, 13, 12 cs and 16 frames last exactly 2.00 s. Browsers slow delays of 0 or
 * 1 cs down to 10 cs, so rates above 50 fps are refused.
 */
public final class GifWriter {
    /** Fastest rate whose delays stay >= 2 cs, the smallest delay browsers honour. */
    public static final double MAX_FPS = 50.0;

    private static final String IMAGE_FORMAT = "javax_imageio_gif_image_1.0";

    private GifWriter() {}

    /** Writes {@code frames} to {@code path} atomically (temporary sibling, then rename). */
    public static void write(Frames frames, Path path, int loopCount) throws IOException {
        checkArguments(frames, loopCount);
        AtomicFiles.writeFile(path, tmp -> {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                write(frames, out, loopCount);
            }
        });
    }

    /**
     * Writes {@code frames} as an animated GIF to {@code out} (not closed).
     *
     * @param loopCount NETSCAPE2.0 loop count, 0 = loop forever, n in [1, 65535] = repeat n times
     *     (most players show the animation n + 1 times)
     */
    public static void write(Frames frames, OutputStream out, int loopCount) throws IOException {
        checkArguments(frames, loopCount);
        int[] delays = delaysCentiseconds(frames.count(), frames.fps());
        ImageWriter writer = gifWriter();
        try (ImageOutputStream ios = ImageIO.createImageOutputStream(out)) {
            writer.setOutput(ios);
            ImageWriteParam param = writer.getDefaultWriteParam();
            writer.prepareWriteSequence(null);
            for (int i = 0; i < frames.count(); i++) {
                BufferedImage image = frames.frame(i);
                IIOMetadata metadata = frameMetadata(writer, image, param, delays[i], i == 0 ? loopCount : -1);
                writer.writeToSequence(new IIOImage(image, null, metadata), param);
            }
            writer.endWriteSequence();
            ios.flush();
        } finally {
            writer.dispose();
        }
        out.flush();
    }

    /**
     * Per-frame delays in centiseconds for {@code count} frames at {@code fps}: frame i lasts
     * round(100 (i+1) / fps) - round(100 i / fps), so the total stays within half a centisecond of
     * count / fps seconds.
     */
    public static int[] delaysCentiseconds(int count, double fps) {
        int[] delays = new int[count];
        long previous = 0;
        for (int i = 0; i < count; i++) {
            long next = Math.round(100.0 * (i + 1) / fps);
            delays[i] = (int) (next - previous);
            previous = next;
        }
        return delays;
    }

    private static void checkArguments(Frames frames, int loopCount) {
        if (frames == null) {
            throw new IllegalArgumentException("gif: frames are null");
        }
        if (loopCount < 0 || loopCount > 0xFFFF) {
            throw new IllegalArgumentException(
                    "gif: loop count must be in [0, 65535] (0 = loop forever), got " + loopCount);
        }
        if (frames.fps() > MAX_FPS) {
            throw new IllegalArgumentException(String.format(
                    "gif: %.3f fps is faster than GIF can play (%.0f fps: delays are whole centiseconds and"
                            + " browsers slow 1 cs delays to 10 cs): lower the fps or write MP4",
                    frames.fps(), MAX_FPS));
        }
    }

    private static ImageWriter gifWriter() throws IOException {
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("gif");
        if (!writers.hasNext()) {
            throw new IOException("gif: this JDK has no ImageIO GIF writer (java.desktop module missing?)");
        }
        return writers.next();
    }

    /** Image metadata: GraphicControlExtension (delay, no transparency); NETSCAPE2.0 when loop >= 0. */
    private static IIOMetadata frameMetadata(
            ImageWriter writer, BufferedImage image, ImageWriteParam param, int delayCs, int loopCount)
            throws IOException {
        IIOMetadata metadata = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(image), param);
        IIOMetadataNode root = (IIOMetadataNode) metadata.getAsTree(IMAGE_FORMAT);

        // Progressive rows buy nothing for animations, and ImageIO's own reader misplaces the rows of
        // interlaced images under five rows high.
        child(root, "ImageDescriptor").setAttribute("interlaceFlag", "FALSE");

        IIOMetadataNode gce = child(root, "GraphicControlExtension");
        gce.setAttribute("disposalMethod", "none");
        gce.setAttribute("userInputFlag", "FALSE");
        gce.setAttribute("transparentColorFlag", "FALSE");
        gce.setAttribute("transparentColorIndex", "0");
        gce.setAttribute("delayTime", Integer.toString(delayCs));

        if (loopCount >= 0) {
            IIOMetadataNode extensions = child(root, "ApplicationExtensions");
            IIOMetadataNode netscape = new IIOMetadataNode("ApplicationExtension");
            netscape.setAttribute("applicationID", "NETSCAPE");
            netscape.setAttribute("authenticationCode", "2.0");
            // Sub-block id 1, then the loop count as unsigned 16-bit little endian.
            netscape.setUserObject(new byte[] {1, (byte) (loopCount & 0xFF), (byte) ((loopCount >> 8) & 0xFF)});
            extensions.appendChild(netscape);
        }
        metadata.setFromTree(IMAGE_FORMAT, root);
        return metadata;
    }

    /** The child named {@code name}, created and appended when missing. */
    private static IIOMetadataNode child(IIOMetadataNode parent, String name) {
        for (int i = 0; i < parent.getLength(); i++) {
            if (parent.item(i).getNodeName().equalsIgnoreCase(name)) {
                return (IIOMetadataNode) parent.item(i);
            }
        }
        IIOMetadataNode node = new IIOMetadataNode(name);
        parent.appendChild(node);
        return node;
    }
}
