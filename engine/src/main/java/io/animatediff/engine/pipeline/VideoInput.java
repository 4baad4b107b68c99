package io.animatediff.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.media.Frames;

/**
 * Turns decoded frames into the video-to-video input of {@link AnimationParams}: the first
 * {@code count} frames as (1, 3, F, H, W) in [-1, 1] (diffusers' VideoProcessor.preprocess_video
 * without resizing: the size must already match the request).
 */
public final class VideoInput {
    private VideoInput() {}

    /** frames -> (1, 3, count, H, W) in [-1, 1] on {@code manager}; refuses a size mismatch or too few frames. */
    public static NDArray tensor(Frames frames, int count, int width, int height, NDManager manager) {
        if (frames.width() != width || frames.height() != height) {
            throw new IllegalArgumentException("video: the input is " + frames.width() + "x" + frames.height()
                    + " but the request asks for " + width + "x" + height + ": pass width " + frames.width()
                    + " and height " + frames.height() + " (multiples of 8) or resize the video");
        }
        if (frames.count() < count) {
            throw new IllegalArgumentException("video: the input has " + frames.count() + " frames, num_frames is "
                    + count + ": ask for at most " + frames.count() + " frames");
        }
        float[] chw = frames.toFloatCHW(); // (F, 3, H, W) in [0, 1]
        int per = 3 * height * width;
        float[] first = new float[count * per];
        for (int i = 0; i < first.length; i++) {
            first[i] = chw[i] * 2 - 1;
        }
        try (NDManager scratch = manager.newSubManager()) {
            NDArray video = scratch.create(first, new Shape(count, 3, height, width))
                    .transpose(1, 0, 2, 3)
                    .expandDims(0); // (1, 3, F, H, W)
            NDArray out = video.duplicate();
            out.attach(manager);
            return out;
        }
    }
}
