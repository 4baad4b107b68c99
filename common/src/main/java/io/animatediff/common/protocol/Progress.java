package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.animatediff.common.InvalidMessageException;

/** {@code step} of {@code total} steps done (0 <= step <= total, total >= 1). */
public record Progress(
        @JsonProperty(value = "step", required = true) int step,
        @JsonProperty(value = "total", required = true) int total) {
    public Progress {
        if (total < 1 || step < 0 || step > total) {
            throw new InvalidMessageException(
                    "step",
                    "step " + step + " of total " + total + " is impossible: need 0 <= step <= total, total >= 1",
                    null);
        }
    }

    /** Done fraction in [0, 1]. */
    public double fraction() {
        return (double) step / total;
    }
}
