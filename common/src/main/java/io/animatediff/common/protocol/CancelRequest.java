package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.time.Instant;

/**
 * A request to cancel a job, published by the gateway; a worker running the job stops between
 * denoising steps and publishes {@link JobEventType#CANCELLED}.
 *
 * @param schema message format version ({@link Schema#CURRENT})
 * @param jobId the job to cancel
 * @param requestedAt when the user asked
 * @param reason free text for the event log, may be null
 */
@JsonPropertyOrder({"schema", "job_id", "requested_at", "reason"})
public record CancelRequest(
        @JsonProperty(value = "schema", required = true) int schema,
        @JsonProperty("job_id") String jobId,
        @JsonProperty("requested_at") Instant requestedAt,
        @JsonProperty("reason") String reason) {

    public CancelRequest {
        Schema.check(schema, "cancel request");
        JobIds.require(jobId, "job_id");
        Records.required(requestedAt, "requested_at");
    }

    /** A cancel request in the current schema. */
    public static CancelRequest of(String jobId, Instant requestedAt, String reason) {
        return new CancelRequest(Schema.CURRENT, jobId, requestedAt, reason);
    }
}
