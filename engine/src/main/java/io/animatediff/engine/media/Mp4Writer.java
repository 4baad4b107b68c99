package io.animatediff.engine.media;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.jcodec.codecs.h264.H264Encoder;
import org.jcodec.codecs.h264.encode.RateControl;
import org.jcodec.codecs.h264.io.model.SeqParameterSet;
import org.jcodec.codecs.h264.io.model.SliceType;
import org.jcodec.codecs.h264.io.model.VUIParameters;
import org.jcodec.common.Codec;
import org.jcodec.common.MuxerTrack;
import org.jcodec.common.VideoCodecMeta;
import org.jcodec.common.VideoEncoder.EncodedFrame;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Packet;
import org.jcodec.common.model.Packet.FrameType;
import org.jcodec.common.model.Picture;
import org.jcodec.common.model.Rational;
import org.jcodec.common.model.Rect;
import org.jcodec.common.model.Size;
import org.jcodec.containers.mp4.Brand;
import org.jcodec.containers.mp4.WebOptimizedMP4Muxer;

/**
 * MP4 with one H.264 video track, encoded by JCodec (pure Java; Baseline profile, I and P frames, a
 * key frame every 25 frames, constant QP {@value #QP}).
 *
 * <p>Colour: frames are converted to limited-range BT.709 Y'CbCr 4:2:0 (chroma centred in each 2x2
 * block) and the stream says so in its VUI (matrix, primaries and transfer 1, full-range flag 0,
 * chroma location 1), the way players expect. (JCodec's own RGB path, SequenceEncoder, writes
 * full-range samples with no VUI, which players take as limited range: crushed blacks, clipped
 * whites.)
 * The index (moov) precedes the data so browsers can start playing before the download ends.
 *
 * <p>Sizes: 4:2:0 needs even width and height; odd sizes are refused (pad or resize the frames
 * first). Frame rate: the exact rational for whole rates and NTSC rates (n * 1000/1001), otherwise
 * fps rounded to 1/1000.
 */
public final class Mp4Writer {
    /**
     * Quantiser of every frame (0 best, 51 worst). Measured on smooth 512x512 frames with JCodec 0.2.5:
     * mean channel error 1.1 / 1.22 / 1.27 at QP 12 / 14 / 15, then a cliff: 2.0 at 16, 5.0 at 18,
     * 6.4 at 20 (its intra coding of gradients degrades abruptly), so 14 with a margin; 16 frames take
     * ~140 KB.
     */
    static final int QP = 14;

    private Mp4Writer() {}

    /** Encodes {@code frames} to {@code out} atomically (temporary sibling, then rename). */
    public static void write(Frames frames, Path out) throws IOException {
        write(frames, out, QP);
    }

    /** As {@link #write(Frames, Path)} with another quantiser (tests and measurements). */
    static void write(Frames frames, Path out, int qp) throws IOException {
        if (frames == null) {
            throw new IllegalArgumentException("mp4: frames are null");
        }
        if (qp < 0 || qp > 51) {
            throw new IllegalArgumentException("mp4: QP must be in [0, 51], got " + qp);
        }
        if (frames.width() % 2 != 0 || frames.height() % 2 != 0) {
            throw new IllegalArgumentException(String.format(
                    "mp4: H.264 4:2:0 needs even width and height, got %dx%d: generate an even size, or write"
                            + " GIF or PNG frames",
                    frames.width(), frames.height()));
        }
        Rational fps = frameRate(frames.fps());
        int level = level(frames.width(), frames.height(), frames.fps());
        AtomicFiles.writeFile(out, tmp -> encode(frames, fps, level, qp, tmp));
    }

    private static void encode(Frames frames, Rational fps, int level, int qp, Path file) throws IOException {
        int w = frames.width();
        int h = frames.height();
        try (FileChannelWrapper channel = NIOUtils.writableChannel(file.toFile())) {
            WebOptimizedMP4Muxer muxer = new WebOptimizedMP4Muxer(channel, Brand.MP4, headerReserve(frames.count()));
            MuxerTrack track = muxer.addVideoTrack(
                    Codec.H264, VideoCodecMeta.createSimpleVideoCodecMeta(new Size(w, h), ColorSpace.YUV420));
            H264Encoder encoder = new LabelledEncoder(new ConstantQp(qp), level);
            // JCodec's encoder only accepts pictures labelled YUV420J; the samples are limited range,
            // which the VUI written by LabelledEncoder declares.
            Picture picture =
                    Picture.createCropped((w + 15) & ~15, (h + 15) & ~15, ColorSpace.YUV420J, new Rect(0, 0, w, h));
            ByteBuffer buffer = ByteBuffer.allocate(Math.max(1 << 16, 2 * picture.getWidth() * picture.getHeight()));
            for (int f = 0; f < frames.count(); f++) {
                YCbCr.toYuv420(frames, f, picture, YCbCr.Matrix.BT709);
                buffer.clear();
                EncodedFrame encoded = encoder.encodeFrame(picture, buffer);
                Packet packet = Packet.createPacket(
                        NIOUtils.clone(encoded.getData()),
                        (long) f * fps.getDen(),
                        fps.getNum(),
                        fps.getDen(),
                        f,
                        encoded.isKeyFrame() ? FrameType.KEY : FrameType.INTER,
                        null);
                track.addFrame(packet);
            }
            muxer.finish();
        }
    }

    /**
     * Bytes reserved before the data for the index: ~900 bytes of fixed boxes plus sample size, chunk
     * offset and key-frame entries (<= 16 bytes per frame). Were it too small, JCodec would put the
     * index after the data instead, still a valid file.
     */
    private static int headerReserve(int frames) {
        return 2048 + 16 * frames;
    }

    /**
     * fps as the rational the MP4 time base uses: whole rates exactly (8 -> 8/1), NTSC rates exactly
     * (29.97002997... -> 30000/1001), otherwise rounded to 1/1000 and reduced (7.5 -> 15/2).
     */
    static Rational frameRate(double fps) {
        if (!(fps > 0) || fps > 100_000) {
            throw new IllegalArgumentException("mp4: fps must be in (0, 100000], got " + fps);
        }
        for (int den : new int[] {1, 1001}) {
            double num = fps * den;
            if (Math.abs(num - Math.rint(num)) < 1e-6 * den) {
                return Rational.reduce((int) Math.rint(num), den);
            }
        }
        long num = Math.round(fps * 1000);
        if (num < 1) {
            throw new IllegalArgumentException("mp4: fps " + fps + " is below 1/1000: one frame per " + (1 / fps)
                    + " s cannot be represented, raise the fps");
        }
        return Rational.reduce((int) num, 1000);
    }

    /**
     * Lowest H.264 level >= 4.0 (what every hardware decoder plays) whose frame size and macroblock
     * rate limits (H.264 Table A-1) fit; larger frames than level 5.2 allows are refused.
     */
    static int level(int width, int height, double fps) {
        int mbW = (width + 15) >> 4;
        int mbH = (height + 15) >> 4;
        long frameMbs = (long) mbW * mbH;
        int[][] levels = { // {level_idc, MaxMBPS, MaxFS}
            {40, 245_760, 8_192},
            {42, 522_240, 8_704},
            {50, 589_824, 22_080},
            {51, 983_040, 36_864},
            {52, 2_073_600, 36_864}
        };
        for (int[] level : levels) {
            long maxFs = level[2];
            boolean sizeFits = frameMbs <= maxFs && (long) mbW * mbW <= 8 * maxFs && (long) mbH * mbH <= 8 * maxFs;
            if (sizeFits && frameMbs * fps <= level[1]) {
                return level[0];
            }
        }
        throw new IllegalArgumentException(String.format(
                "mp4: %dx%d at %.3f fps exceeds H.264 level 5.2 (36864 macroblocks per frame, 2073600 per"
                        + " second): write a smaller size or lower fps, or PNG frames",
                width, height, fps));
    }

    /** JCodec's encoder with the level set and a VUI declaring limited-range BT.709 colour. */
    private static final class LabelledEncoder extends H264Encoder {
        private final int level;

        LabelledEncoder(RateControl rc, int level) {
            super(rc);
            this.level = level;
        }

        @Override
        public SeqParameterSet initSPS(Size size) {
            SeqParameterSet sps = super.initSPS(size);
            sps.levelIdc = level;
            VUIParameters vui = new VUIParameters();
            vui.videoSignalTypePresentFlag = true;
            vui.videoFormat = 5; // unspecified
            vui.videoFullRangeFlag = false;
            vui.colourDescriptionPresentFlag = true;
            vui.colourPrimaries = 1; // BT.709 (= sRGB primaries)
            vui.transferCharacteristics = 1; // BT.709
            vui.matrixCoefficients = 1; // BT.709
            vui.chromaLocInfoPresentFlag = true;
            vui.chromaSampleLocTypeTopField = 1; // chroma centred in each 2x2 block, as YCbCr averages
            vui.chromaSampleLocTypeBottomField = 1;
            sps.vuiParams = vui;
            return sps;
        }
    }

    /**
     * The same QP for I and P frames. Like JCodec's DumbRateControl (I 20, P 26), a macroblock that
     * overflows its share of the output buffer is re-encoded one QP coarser, and the QP steps back
     * once macroblocks fall well under it again.
     */
    private static final class ConstantQp implements RateControl {
        private final int qp;
        private int bitsPerMb;
        private int delta;
        private boolean justSwitched;

        ConstantQp(int qp) {
            this.qp = qp;
        }

        @Override
        public int startPicture(Size size, int maxSize, SliceType sliceType) {
            int mbs = ((size.getWidth() + 15) >> 4) * ((size.getHeight() + 15) >> 4);
            bitsPerMb = (int) (((long) maxSize << 3) / mbs);
            delta = 0;
            justSwitched = false;
            return qp;
        }

        @Override
        public int initialQpDelta() {
            return 0;
        }

        @Override
        public int accept(int bits) {
            if (bits >= bitsPerMb && qp + delta < 51) {
                delta++;
                justSwitched = true;
                return 1;
            }
            if (delta > 0 && !justSwitched && bitsPerMb - bits > (bitsPerMb >> 3)) {
                delta--;
                justSwitched = true;
                return -1;
            }
            justSwitched = false;
            return 0;
        }
    }
}
