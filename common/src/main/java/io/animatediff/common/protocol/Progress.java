package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.animatediff.common.InvalidMessageException;

/**
 * {@code step} of {@code total} steps done (0 <= step <= total, total >= 1). Training jobs also
 * carry the last step's {@code loss} and the throughput in {@code samples_per_second} (both absent
 * for generation jobs).
 */
public record Progress(
        @JsonProperty(value = "step", required = true) int step,
        @JsonProperty(value = "total", required = true) int total,
        @JsonProperty("loss") Double loss,
        @JsonProperty("samples_per_second") Double samplesPerSecond) {
    @JsonCreator
    public Progress {
        if (total < 1 || step < 0 || step > total) {
            throw new InvalidMessageException(
                    "step",
                    "step " + step + " of total " + total + " is impossible: need 0 <= step <= total, total >= 1",
                    null);
        }
    }

    /** Progress without training figures. */
    public Progress(int step, int total) {
        this(step, total, null, null);
    }

    /** Done fraction in [0, 1]. */
    public double fraction() {
        return (double) step / total;
    }
}
