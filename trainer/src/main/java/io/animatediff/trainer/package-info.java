/**
 * The trainer service: consumes {@code animatediff.train}, trains motion modules or MotionLoRAs
 * with the engine's {@code MotionTrainer} on datasets in S3, keeps resumable checkpoints under
 * {@code checkpoints/<jobId>/} and registers the result in the model registry.
 */
package io.animatediff.trainer;
