/**
 * Diffusion samplers ported from diffusers: {@link io.animatediff.engine.schedulers.DDIMScheduler}
 * (AnimateDiff's default) and {@link io.animatediff.engine.schedulers.EulerDiscreteScheduler}
 * (AnimateDiff-Lightning), configured by {@link io.animatediff.engine.schedulers.SchedulerConfig}
 * read from a diffusers {@code scheduler_config.json}.
 *
 * <p>Tables (alphas_cumprod, sigmas, timesteps) are plain {@code double[]} holding the float32 values
 * diffusers computes; tensors enter and leave each call on the caller's NDManager and may have any
 * shape, typically latents (B, C, F, H, W).
 */
package io.animatediff.engine.schedulers;
