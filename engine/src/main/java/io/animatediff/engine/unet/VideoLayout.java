package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.GroupNorm;

/**
 * Moves video activations between the UNet's internal layout ((B F), C, H, W) — frames folded into
 * the batch, frame-major within a sample — and the pipeline's (B, C, F, H, W).
 */
public final class VideoLayout {
    private VideoLayout() {}

    /** (B, C, F, H, W) -> ((B F), C, H, W). */
    public static NDArray fold(NDArray video) {
        Shape s = video.getShape();
        return video.transpose(0, 2, 1, 3, 4).reshape(s.get(0) * s.get(2), s.get(1), s.get(3), s.get(4));
    }

    /** ((B F), C, H, W) -> (B, C, F, H, W). */
    public static NDArray unfold(NDArray frames, int f) {
        Shape s = frames.getShape();
        return frames.reshape(s.get(0) / f, f, s.get(1), s.get(2), s.get(3)).transpose(0, 2, 1, 3, 4);
    }

    /**
     * GroupNorm of x ((B F), C, H, W): per frame (statistics of each frame alone, the inflated
     * GroupNorm of AnimateDiff v2/v3) or across frames (statistics over all F frames of a sample,
     * torch.nn.GroupNorm on the 5-D tensor as in v1 and in diffusers' motion transformer).
     */
    public static NDArray groupNorm(GroupNorm norm, NDArray x, int frames, boolean perFrame) {
        if (perFrame || frames == 1) {
            return norm.forward(x);
        }
        NDArray video = unfold(x, frames); // (B, C, F, H, W)
        return fold(norm.forward(video));
    }

    /** Repeats each row of x (B, ...) F times consecutively -> ((B F), ...). */
    public static NDArray perFrame(NDArray x, int frames) {
        return frames == 1 ? x : x.repeat(0, frames);
    }
}
