/**
 * Motion-module and MotionLoRA training, ported from the official AnimateDiff train.py: the image
 * model (VAE, text encoder, every UNet weight outside {@code motion_modules.}) frozen, epsilon-MSE at
 * uniformly sampled timesteps, AdamW with gradient clipping, captions dropped for classifier-free
 * guidance, clips streamed from a {@link io.animatediff.engine.training.DatasetSource}, and
 * resumable atomic checkpoints.
 *
 * <p>Determinism: every random draw (clip start and flip, caption dropout, timesteps, noise, the VAE's
 * latent sample) comes from a generator seeded by (run seed, purpose, step or clip position) through
 * {@link io.animatediff.engine.training.SeedStreams}, never from a generator's running state, so a
 * run resumed from a checkpoint draws exactly what the uninterrupted run drew.
 */
package io.animatediff.engine.training;
