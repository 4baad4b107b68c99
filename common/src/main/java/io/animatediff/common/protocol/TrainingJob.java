package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.animatediff.common.InvalidMessageException;
import java.time.Instant;

/**
 * A training job on {@code animatediff.train}, keyed by job id. Checkpoints go to {@code
 * checkpoints/<jobId>/step-<n>.safetensors}; a redelivered job resumes from the newest.
 *
 * @param schema message format version ({@link Schema#CURRENT})
 * @param jobId the job's id
 * @param submittedAt when the gateway accepted the job
 * @param request what to train, seed fixed
 * @param attempt 1 for the first delivery
 */
@JsonPropertyOrder({"schema", "job_id", "submitted_at", "attempt", "request"})
public record TrainingJob(
        @JsonProperty(value = "schema", required = true) int schema,
        @JsonProperty("job_id") String jobId,
        @JsonProperty("submitted_at") Instant submittedAt,
        @JsonProperty("request") TrainingRequest request,
        @JsonProperty(value = "attempt", required = true) int attempt) {

    public TrainingJob {
        Schema.check(schema, "training job");
        JobIds.require(jobId, "job_id");
        Records.required(submittedAt, "submitted_at");
        Records.required(request, "request");
        if (request.seed() == null) {
            throw new InvalidMessageException(
                    "request.seed", "a queued job must carry a fixed seed: the gateway picks one", null);
        }
        Records.atLeast(attempt, 1, "attempt");
    }

    /** A first-attempt job in the current schema. */
    public static TrainingJob create(String jobId, Instant submittedAt, TrainingRequest request) {
        return new TrainingJob(Schema.CURRENT, jobId, submittedAt, request, 1);
    }

    /** The same job for its next attempt. */
    public TrainingJob nextAttempt() {
        return new TrainingJob(Schema.CURRENT, jobId, submittedAt, request, attempt + 1);
    }
}
