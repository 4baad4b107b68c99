package io.animatediff.engine.media;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.jcodec.api.FrameGrab;
import org.jcodec.api.JCodecException;
import org.jcodec.api.PictureWithMetadata;
import org.jcodec.codecs.h264.H264Utils;
import org.jcodec.codecs.h264.io.model.SeqParameterSet;
import org.jcodec.codecs.h264.io.model.VUIParameters;
import org.jcodec.common.DemuxerTrackMeta;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Picture;

/**
 * Reads every frame of an MP4/MOV H.264 video track with JCodec's {@link FrameGrab}, in presentation
 * order (streams with B-frames decode out of order; frames are sorted by timestamp).
 *
 * <p>Colour follows the stream's VUI: matrix BT.709, BT.601 or BT.2020 and limited or full range as
 * declared; an unlabelled stream is taken as limited range, BT.709 when at least 720 lines high and
 * BT.601 below (what browsers and mpv assume). fps = frames / track duration.
 */
public final class Mp4Reader {
    private Mp4Reader() {}

    /** Decodes all frames; errors name the file and say what to do. */
    public static Frames read(Path path) throws IOException {
        try (FileChannelWrapper channel = NIOUtils.readableChannel(path.toFile())) {
            checkBoxes(path, channel.size());
            FrameGrab grab = open(path, channel);
            DemuxerTrackMeta meta = grab.getVideoTrack().getMeta();
            SeqParameterSet sps = firstSps(meta.getCodecPrivate());
            List<Decoded> decoded = new ArrayList<>();
            int width = -1;
            int height = -1;
            YCbCr.Matrix matrix = null;
            boolean fullRange = false;
            while (true) {
                PictureWithMetadata next;
                try {
                    next = grab.getNativeFrameWithMetadata();
                } catch (IOException | RuntimeException e) {
                    throw new IOException(
                            path + ": corrupt or truncated MP4, frame " + decoded.size() + " does not decode: " + e, e);
                }
                if (next == null) {
                    break;
                }
                Picture picture = next.getPicture();
                if (picture == null) {
                    throw new IOException(
                            path + ": corrupt or truncated MP4, frame " + decoded.size() + " decodes to nothing");
                }
                if (picture.getColor() != ColorSpace.YUV420 && picture.getColor() != ColorSpace.YUV420J) {
                    throw new IOException(path + ": H.264 chroma format " + picture.getColor()
                            + " is not supported (4:2:0 only): re-encode with ffmpeg -pix_fmt yuv420p");
                }
                if (width < 0) {
                    width = picture.getCroppedWidth();
                    height = picture.getCroppedHeight();
                    matrix = matrix(sps, height);
                    fullRange = fullRange(sps);
                } else if (picture.getCroppedWidth() != width || picture.getCroppedHeight() != height) {
                    throw new IOException(String.format(
                            "%s: frame %d is %dx%d but frame 0 is %dx%d: videos that change size are not supported",
                            path,
                            decoded.size(),
                            picture.getCroppedWidth(),
                            picture.getCroppedHeight(),
                            width,
                            height));
                }
                int[] rgb = new int[width * height]; // (H, W)
                YCbCr.toRgb(picture, rgb, 0, matrix, fullRange);
                decoded.add(new Decoded(next.getTimestamp(), rgb));
            }
            if (decoded.isEmpty()) {
                throw new IOException(path + ": MP4 video track has no frames (empty or truncated file)");
            }
            decoded.sort(Comparator.comparingDouble(Decoded::timestamp));
            long pixels = (long) decoded.size() * width * height;
            if (pixels > Integer.MAX_VALUE - 8) {
                throw new IOException(String.format(
                        "%s: %d frames of %dx%d are too many pixels for one Java array: cut the video first",
                        path, decoded.size(), width, height));
            }
            int[] all = new int[(int) pixels]; // (F, H, W)
            for (int f = 0; f < decoded.size(); f++) {
                System.arraycopy(decoded.get(f).rgb(), 0, all, f * width * height, width * height);
            }
            return new Frames(decoded.size(), width, height, all, fps(path, meta, decoded.size()));
        }
    }

    private record Decoded(double timestamp, int[] rgb) {}

    /**
     * Walks the top-level ISO-BMFF boxes (4-byte big-endian size, 4-character type; size 1 = 64-bit
     * size follows, 0 = to the end of the file): a box running past the end means the file was cut
     * short, a missing 'moov' that it was never finished. JCodec reports both as null pointers.
     */
    static void checkBoxes(Path path, long fileSize) throws IOException {
        boolean moov = false;
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(path)) {
            long pos = 0;
            ByteBuffer header = ByteBuffer.allocate(16);
            while (pos < fileSize) {
                header.clear().limit((int) Math.min(16, fileSize - pos));
                while (header.hasRemaining() && ch.read(header, pos + header.position()) > 0) {
                    // fill the header
                }
                header.flip();
                if (header.remaining() < 8) {
                    throw new IOException(String.format(
                            "%s: truncated MP4, a box header at byte %d is cut off by the end of the file (%d bytes)",
                            path, pos, fileSize));
                }
                long size = header.getInt() & 0xFFFFFFFFL;
                byte[] type = new byte[4];
                header.get(type);
                String name = new String(type, java.nio.charset.StandardCharsets.ISO_8859_1);
                if (size == 1) {
                    if (header.remaining() < 8) {
                        throw new IOException(path + ": truncated MP4, box '" + name + "' at byte " + pos
                                + " is cut off by the end of the file");
                    }
                    size = header.getLong();
                } else if (size == 0) {
                    size = fileSize - pos;
                }
                if (size < 8) {
                    throw new IOException(String.format(
                            "%s: corrupt MP4, box '%s' at byte %d declares %d bytes", path, name, pos, size));
                }
                if (pos + size > fileSize) {
                    throw new IOException(String.format(
                            "%s: truncated MP4, box '%s' at byte %d declares %d bytes but the file ends at byte %d:"
                                    + " the file is cut short, re-download or re-export it",
                            path, name, pos, size, fileSize));
                }
                moov |= name.equals("moov");
                pos += size;
            }
        }
        if (!moov) {
            throw new IOException(path + ": MP4 has no 'moov' index box: the recording was never finished or the"
                    + " file is not an MP4");
        }
    }

    private static FrameGrab open(Path path, FileChannelWrapper channel) throws IOException {
        FrameGrab grab;
        try {
            grab = FrameGrab.createFrameGrab(channel);
        } catch (JCodecException | IOException | RuntimeException e) {
            throw new IOException(
                    path + ": MP4 cannot be opened (" + e.getMessage() + "): the file is corrupt or"
                            + " truncated, or its video is not H.264; re-encode with ffmpeg -c:v libx264 -pix_fmt yuv420p",
                    e);
        }
        if (grab.getVideoTrack() == null) {
            throw new IOException(path + ": MP4 has no video track");
        }
        return grab;
    }

    private static double fps(Path path, DemuxerTrackMeta meta, int frames) throws IOException {
        double seconds = meta.getTotalDuration();
        if (!(seconds > 0) || Double.isInfinite(seconds)) {
            throw new IOException(path + ": MP4 video track declares no duration (" + seconds
                    + " s), so its frame rate is unknown: remux it with ffmpeg -c copy");
        }
        return frames / seconds;
    }

    /** The first SPS of the track's codec private data (Annex B SPS/PPS), or null. */
    private static SeqParameterSet firstSps(ByteBuffer codecPrivate) {
        if (codecPrivate == null) {
            return null;
        }
        try {
            List<ByteBuffer> sps = H264Utils.getRawSPS(codecPrivate.duplicate());
            return sps.isEmpty() ? null : H264Utils.readSPS(sps.get(0));
        } catch (RuntimeException e) {
            return null; // unreadable parameter sets: the decoder reports the real problem
        }
    }

    private static YCbCr.Matrix matrix(SeqParameterSet sps, int height) {
        VUIParameters vui = sps == null ? null : sps.vuiParams;
        if (vui != null && vui.videoSignalTypePresentFlag && vui.colourDescriptionPresentFlag) {
            switch (vui.matrixCoefficients) {
                case 1:
                    return YCbCr.Matrix.BT709;
                case 5:
                case 6:
                    return YCbCr.Matrix.BT601;
                case 9:
                case 10:
                    return YCbCr.Matrix.BT2020;
                default:
                    break;
            }
        }
        return height >= 720 ? YCbCr.Matrix.BT709 : YCbCr.Matrix.BT601;
    }

    private static boolean fullRange(SeqParameterSet sps) {
        VUIParameters vui = sps == null ? null : sps.vuiParams;
        return vui != null && vui.videoSignalTypePresentFlag && vui.videoFullRangeFlag;
    }
}
