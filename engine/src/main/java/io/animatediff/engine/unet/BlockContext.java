package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;

/**
 * What every UNet block needs besides its input, computed once per forward.
 *
 * @param temb time embedding per frame ((B F), T)
 * @param context text embedding per frame ((B F), S, Cctx)
 * @param frames F
 * @param perFrameNorm resnet GroupNorm per frame (inflated) or across frames (v1)
 * @param motionScale multiplier on the temporal attention logits (1 = reference; Evolved's motion scale)
 */
public record BlockContext(NDArray temb, NDArray context, int frames, boolean perFrameNorm, double motionScale) {}
