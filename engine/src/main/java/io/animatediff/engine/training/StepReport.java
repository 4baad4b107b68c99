package io.animatediff.engine.training;

/**
 * One optimizer step's figures.
 *
 * @param step optimizer steps done, this one included
 * @param totalSteps the run's target
 * @param loss mean epsilon-MSE over the step's micro-batches
 * @param gradNorm global gradient norm before clipping
 * @param samplesPerSecond clips of the step per wall-clock second of the step
 * @param seconds the step's wall-clock time
 * @param epoch the dataset epoch being read
 * @param skippedClips clips skipped so far
 */
public record StepReport(
        long step,
        long totalSteps,
        double loss,
        double gradNorm,
        double samplesPerSecond,
        double seconds,
        int epoch,
        long skippedClips) {}
