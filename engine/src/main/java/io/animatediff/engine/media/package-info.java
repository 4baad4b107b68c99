/**
 * Animation files in and out: {@link io.animatediff.engine.media.Frames} (packed RGB frames plus a
 * frame rate), the GIF, MP4/H.264 and PNG-frame writers, and the readers the trainer and
 * video-to-video use ({@link io.animatediff.engine.media.VideoReader}).
 *
 * <p>Shapes use the engine's legend: F frames, H/W spatial; a decoded video is (F, 3, H, W) floats in
 * [0, 1] or F*H*W packed 0xRRGGBB ints, frame-major. Pure Java: ImageIO for GIF/PNG/JPEG, JCodec for
 * H.264. Every writer that targets a {@link java.nio.file.Path} writes a hidden temporary sibling and
 * renames it into place, so a crash never leaves a half-written file under the final name.
 */
package io.animatediff.engine.media;
