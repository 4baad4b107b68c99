package io.animatediff.engine.training;

import java.nio.file.Path;
import java.util.Map;

/**
 * How a run ended.
 *
 * @param steps optimizer steps done
 * @param lastLoss the last step's loss (NaN if no step ran in this call)
 * @param checkpoint the last checkpoint written (null if none)
 * @param cancelled whether the listener stopped the run
 * @param skipped clips skipped over the whole run, by reason
 */
public record TrainingResult(
        long steps, double lastLoss, Path checkpoint, boolean cancelled, Map<String, Long> skipped) {
    public TrainingResult {
        skipped = Map.copyOf(skipped);
    }
}
