package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Why a job failed: a machine code and a reason a user can act on (what, where, what to do).
 *
 * @param code machine-readable reason
 * @param reason human-readable reason, e.g. "motion module 'mm-v1' supports 24 frames, the job asked
 *     for 32: pass num_frames <= 24 or use a v2 module"
 */
public record Failure(
        @JsonProperty("code") FailureCode code,
        @JsonProperty("reason") String reason) {
    public Failure {
        Records.required(code, "code");
        Records.nonBlank(reason, "reason");
    }
}
