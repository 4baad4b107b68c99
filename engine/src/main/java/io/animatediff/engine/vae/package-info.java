/**
 * The Stable Diffusion VAE (diffusers' AutoencoderKL): images (N, 3, H, W) in [-1, 1] to latent
 * distributions (N, 2 L, H/8, W/8) and latents back to images; video helpers that work in frame
 * chunks, each in its own child NDManager, so memory does not grow with the frame count.
 */
package io.animatediff.engine.vae;
