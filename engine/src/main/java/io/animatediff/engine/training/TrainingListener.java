package io.animatediff.engine.training;

import java.nio.file.Path;
import java.util.List;

/** What a training run reports as it goes (the CLI prints it; the trainer service publishes it). */
public interface TrainingListener {
    /** A listener that ignores everything and never cancels. */
    TrainingListener NONE = new TrainingListener() {};

    /** After every optimizer step. */
    default void onStep(StepReport report) {}

    /** A note for the user: skipped clips, checkpoints passed over on resume, the resume point. */
    default void onMessage(String message) {}

    /** After a checkpoint is complete on disk. */
    default void onCheckpoint(long step, Path dir) {}

    /** After the validation samples of a step are written. */
    default void onValidation(long step, List<Path> files) {}

    /** Polled between steps: true stops the run after the current step (no checkpoint is written). */
    default boolean isCancelled() {
        return false;
    }
}
