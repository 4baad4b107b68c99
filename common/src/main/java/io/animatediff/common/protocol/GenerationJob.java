package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.animatediff.common.InvalidMessageException;
import java.time.Instant;

/**
 * A generation job on {@code animatediff.generate}, keyed by job id. The request's seed is always
 * fixed here, so a redelivered or retried job renders the same frames.
 *
 * @param schema message format version ({@link Schema#CURRENT})
 * @param jobId the job's id; every object it writes lives under {@code results/<jobId>/}
 * @param submittedAt when the gateway accepted the job
 * @param request what to generate, seed fixed
 * @param attempt 1 for the first delivery, incremented when a worker re-publishes it for a retry
 */
@JsonPropertyOrder({"schema", "job_id", "submitted_at", "attempt", "request"})
public record GenerationJob(
        @JsonProperty(value = "schema", required = true) int schema,
        @JsonProperty("job_id") String jobId,
        @JsonProperty("submitted_at") Instant submittedAt,
        @JsonProperty("request") GenerationRequest request,
        @JsonProperty(value = "attempt", required = true) int attempt) {

    public GenerationJob {
        Schema.check(schema, "generation job");
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
    public static GenerationJob create(String jobId, Instant submittedAt, GenerationRequest request) {
        return new GenerationJob(Schema.CURRENT, jobId, submittedAt, request, 1);
    }

    /** The same job for its next attempt. */
    public GenerationJob nextAttempt() {
        return new GenerationJob(Schema.CURRENT, jobId, submittedAt, request, attempt + 1);
    }
}
