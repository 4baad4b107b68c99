package io.animatediff.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.animatediff.common.protocol.Failure;
import io.animatediff.common.protocol.Progress;
import java.time.Instant;
import java.util.List;

/**
 * A job as {@code GET /v1/jobs/{id}} shows it (docs/fleet-contract.md, "HTTP").
 *
 * @param jobId the job
 * @param status QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED
 * @param progress latest step/total, absent before a worker reported any
 * @param attempt the attempt the latest event belongs to
 * @param createdAt when the job was queued (earliest event seen)
 * @param updatedAt latest event
 * @param results objects written, each with a presigned GET URL (SUCCEEDED only)
 * @param failure code and reason (FAILED only)
 * @param warnings validator warnings recorded at submission by this replica
 * @param phase what the running job waits for, e.g. {@code waiting_for_storage} (absent otherwise)
 * @param message a note on {@code phase}: what failed, how long it waited, the next retry
 */
@JsonPropertyOrder({
    "job_id",
    "status",
    "progress",
    "attempt",
    "created_at",
    "updated_at",
    "results",
    "failure",
    "warnings",
    "phase",
    "message"
})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobView(
        @JsonProperty("job_id") String jobId,
        @JsonProperty("status") JobStatus status,
        @JsonProperty("progress") Progress progress,
        @JsonProperty("attempt") int attempt,
        @JsonProperty("created_at") Instant createdAt,
        @JsonProperty("updated_at") Instant updatedAt,
        @JsonProperty("results") List<Result> results,
        @JsonProperty("failure") Failure failure,
        @JsonProperty("warnings") List<String> warnings,
        @JsonProperty("phase") String phase,
        @JsonProperty("message") String message) {

    /**
     * One result object.
     *
     * @param format gif, mp4, png or frames
     * @param key object key in the fleet's bucket
     * @param size bytes
     * @param sha256 lowercase hex sha256
     * @param url presigned GET, valid for the configured expiry (1 h by default)
     */
    @JsonPropertyOrder({"format", "key", "size", "sha256", "url"})
    public record Result(
            @JsonProperty("format") String format,
            @JsonProperty("key") String key,
            @JsonProperty("size") long size,
            @JsonProperty("sha256") String sha256,
            @JsonProperty("url") String url) {}

    /** Links of a job, as the 202 answer and listings show them. */
    public record Links(
            @JsonProperty("self") String self,
            @JsonProperty("events") String events,
            @JsonProperty("cancel") String cancel) {
        public static Links of(String jobId) {
            String self = "/v1/jobs/" + jobId;
            return new Links(self, self + "/events", self + "/cancel");
        }
    }
}
