/**
 * AnimateDiff on DJL PyTorch.
 *
 * <p>Shape legend used in every comment of the engine: B batch, F frames, C channels, H/W spatial
 * (latent unless stated), S tokens (sequence), N heads, D head dim. Video tensors are (B, C, F, H, W)
 * at the pipeline's edges; inside the UNet they travel as ((B F), C, H, W), frame-major within a
 * sample, and are regrouped only where a block needs the frame axis.
 */
package io.animatediff.engine;
