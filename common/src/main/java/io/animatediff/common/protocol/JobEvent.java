package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.animatediff.common.InvalidMessageException;
import java.time.Instant;
import java.util.List;

/**
 * One event of a job's life on {@code animatediff.job-events}, keyed by job id (the topic is
 * compacted, so the latest event of every job survives).
 *
 * <p>Design: one record plus the {@link JobEventType} enum rather than a sealed hierarchy. Every
 * consumer reads the same flat JSON shape, the gateway folds events with one {@code switch} on
 * {@link #type()}, and Java 17 has no pattern matching over sealed types to make subtypes pay off.
 * The constructor enforces what each type carries, so an impossible event cannot be built or read:
 *
 * <ul>
 *   <li>{@code progress}: required for PROGRESS, allowed for RUNNING, refused otherwise;
 *   <li>{@code results}: required (non-empty) for SUCCEEDED, refused otherwise;
 *   <li>{@code failure}: required for FAILED, refused otherwise;
 *   <li>{@code worker_id}: required for RUNNING, PROGRESS and SUCCEEDED;
 *   <li>{@code phase} and {@code message} (optional, added in schema 1 compatibly: absent from
 *       the JSON when null, and readers ignore fields they do not know): allowed for RUNNING and
 *       PROGRESS only; {@code message} requires {@code phase}.
 * </ul>
 *
 * @param schema message format version ({@link Schema#CURRENT})
 * @param jobId the job
 * @param type what happened
 * @param timestamp when it happened
 * @param attempt the job attempt the event belongs to (1 for the first)
 * @param workerId the worker that produced it, or null for gateway events
 * @param progress step and total, see above
 * @param results objects written, see above
 * @param failure code and reason, see above
 * @param phase what a running job is doing when it is not denoising, e.g. {@value
 *     #PHASE_WAITING_FOR_STORAGE}; null otherwise
 * @param message a human-readable note on {@code phase} (what, how long, next retry); null when
 *     there is no phase
 */
@JsonPropertyOrder({
    "schema",
    "job_id",
    "type",
    "timestamp",
    "attempt",
    "worker_id",
    "progress",
    "results",
    "failure",
    "phase",
    "message"
})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobEvent(
        @JsonProperty(value = "schema", required = true) int schema,
        @JsonProperty("job_id") String jobId,
        @JsonProperty("type") JobEventType type,
        @JsonProperty("timestamp") Instant timestamp,
        @JsonProperty(value = "attempt", required = true) int attempt,
        @JsonProperty("worker_id") String workerId,
        @JsonProperty("progress") Progress progress,
        @JsonProperty("results") List<ResultObject> results,
        @JsonProperty("failure") Failure failure,
        @JsonProperty("phase") String phase,
        @JsonProperty("message") String message) {

    /** Phase of a RUNNING job whose results cannot be written yet: the worker retries with backoff. */
    public static final String PHASE_WAITING_FOR_STORAGE = "waiting_for_storage";

    /** Longest {@code message}, in characters. */
    public static final int MAX_MESSAGE_LENGTH = 1000;

    @JsonCreator
    public JobEvent {
        Schema.check(schema, "job event");
        JobIds.require(jobId, "job_id");
        Records.required(type, "type");
        Records.required(timestamp, "timestamp");
        Records.atLeast(attempt, 1, "attempt");
        results = results == null ? null : Records.list(results, "results");
        boolean producedByWorker =
                type == JobEventType.RUNNING || type == JobEventType.PROGRESS || type == JobEventType.SUCCEEDED;
        if (producedByWorker && (workerId == null || workerId.isBlank())) {
            throw new InvalidMessageException("worker_id", type + " events name the worker: add worker_id", null);
        }
        if (type == JobEventType.PROGRESS && progress == null) {
            throw new InvalidMessageException("progress", "PROGRESS events carry {step, total}: add it", null);
        }
        if (progress != null && type != JobEventType.PROGRESS && type != JobEventType.RUNNING) {
            throw new InvalidMessageException(
                    "progress", "only RUNNING and PROGRESS events carry progress, this is " + type, null);
        }
        if (type == JobEventType.SUCCEEDED && (results == null || results.isEmpty())) {
            throw new InvalidMessageException(
                    "results", "SUCCEEDED events list the objects written: add at least one", null);
        }
        if (results != null && type != JobEventType.SUCCEEDED) {
            throw new InvalidMessageException("results", "only SUCCEEDED events carry results, this is " + type, null);
        }
        if (type == JobEventType.FAILED && failure == null) {
            throw new InvalidMessageException("failure", "FAILED events carry {code, reason}: add it", null);
        }
        if (failure != null && type != JobEventType.FAILED) {
            throw new InvalidMessageException("failure", "only FAILED events carry failure, this is " + type, null);
        }
        if (phase != null && type != JobEventType.RUNNING && type != JobEventType.PROGRESS) {
            throw new InvalidMessageException(
                    "phase", "only RUNNING and PROGRESS events carry a phase, this is " + type, null);
        }
        if (phase != null && !phase.matches("[a-z][a-z_]{0,63}")) {
            throw new InvalidMessageException(
                    "phase", "phase '" + phase + "' is not a lower_snake_case word of at most 64 characters", null);
        }
        if (message != null && phase == null) {
            throw new InvalidMessageException("message", "a message describes a phase: add phase", null);
        }
        if (message != null && message.length() > MAX_MESSAGE_LENGTH) {
            throw new InvalidMessageException(
                    "message",
                    "message has " + message.length() + " characters, at most " + MAX_MESSAGE_LENGTH + " allowed",
                    null);
        }
    }

    /** An event without phase and message (the fields every event had before they were added). */
    public JobEvent(
            int schema,
            String jobId,
            JobEventType type,
            Instant timestamp,
            int attempt,
            String workerId,
            Progress progress,
            List<ResultObject> results,
            Failure failure) {
        this(schema, jobId, type, timestamp, attempt, workerId, progress, results, failure, null, null);
    }

    /** The gateway accepted the job. */
    public static JobEvent queued(String jobId, Instant at, int attempt) {
        return new JobEvent(Schema.CURRENT, jobId, JobEventType.QUEUED, at, attempt, null, null, null, null);
    }

    /** A worker started the job; {@code total} steps to go. */
    public static JobEvent running(String jobId, Instant at, int attempt, String workerId, int total) {
        return new JobEvent(
                Schema.CURRENT, jobId, JobEventType.RUNNING, at, attempt, workerId, new Progress(0, total), null, null);
    }

    /**
     * A worker's job is still running but waiting: {@code phase} names what for (e.g. {@value
     * #PHASE_WAITING_FOR_STORAGE}), {@code message} says what failed, how long it has waited and when
     * it retries. Progress is left as it was.
     */
    public static JobEvent waiting(
            String jobId, Instant at, int attempt, String workerId, String phase, String message) {
        String m =
                message.length() > MAX_MESSAGE_LENGTH ? message.substring(0, MAX_MESSAGE_LENGTH - 3) + "..." : message;
        return new JobEvent(
                Schema.CURRENT, jobId, JobEventType.RUNNING, at, attempt, workerId, null, null, null, phase, m);
    }

    /** {@code step} of {@code total} steps done. */
    public static JobEvent progress(String jobId, Instant at, int attempt, String workerId, int step, int total) {
        return new JobEvent(
                Schema.CURRENT,
                jobId,
                JobEventType.PROGRESS,
                at,
                attempt,
                workerId,
                new Progress(step, total),
                null,
                null);
    }

    /** The job finished and wrote {@code results}. */
    public static JobEvent succeeded(
            String jobId, Instant at, int attempt, String workerId, List<ResultObject> results) {
        return new JobEvent(Schema.CURRENT, jobId, JobEventType.SUCCEEDED, at, attempt, workerId, null, results, null);
    }

    /** The job failed; {@code workerId} may be null when the gateway or DLQ handler reports it. */
    public static JobEvent failed(String jobId, Instant at, int attempt, String workerId, Failure failure) {
        return new JobEvent(Schema.CURRENT, jobId, JobEventType.FAILED, at, attempt, workerId, null, null, failure);
    }

    /** The job was cancelled; {@code workerId} is null when it was cancelled before a worker took it. */
    public static JobEvent cancelled(String jobId, Instant at, int attempt, String workerId) {
        return new JobEvent(Schema.CURRENT, jobId, JobEventType.CANCELLED, at, attempt, workerId, null, null, null);
    }

    /** Whether no further event follows. */
    public boolean isTerminal() {
        return type.isTerminal();
    }
}
