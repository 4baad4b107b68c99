package io.animatediff.gateway;

import io.animatediff.common.protocol.Failure;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.Progress;
import io.animatediff.common.protocol.ResultObject;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * One job's state, folded from its events ({@link #apply}).
 *
 * @param jobId the job
 * @param status its status
 * @param lastEvent type of the latest applied event (names the SSE event)
 * @param progress latest step/total, null before a worker reported any
 * @param attempt attempt of the latest applied event
 * @param createdAt earliest event time seen (the QUEUED time unless compaction removed it)
 * @param updatedAt time of the latest applied event
 * @param results objects written (SUCCEEDED only, else empty)
 * @param failure why it failed (FAILED only, else null)
 * @param version incremented on every change, so listeners can drop repeats
 * @param phase what the running job waits for (e.g. {@code waiting_for_storage}), from the latest
 *     event only; null otherwise
 * @param message a note on {@code phase} from the latest event; null otherwise
 */
public record JobState(
        String jobId,
        JobStatus status,
        JobEventType lastEvent,
        Progress progress,
        int attempt,
        Instant createdAt,
        Instant updatedAt,
        List<ResultObject> results,
        Failure failure,
        long version,
        String phase,
        String message) {

    public JobState {
        results = results == null ? List.of() : List.copyOf(results);
    }

    /** The state a job's first seen event gives it. */
    public static JobState first(JobEvent e) {
        return new JobState(
                e.jobId(),
                JobStatus.of(e.type()),
                e.type(),
                e.progress(),
                e.attempt(),
                e.timestamp(),
                e.timestamp(),
                e.results(),
                e.failure(),
                1,
                e.phase(),
                e.message());
    }

    /**
     * The state after {@code e}, or this very instance when {@code e} changes nothing. Rules, so
     * that redelivered, duplicated or crossed events never move a job backwards:
     *
     * <ul>
     *   <li>an event of an older attempt is ignored; a newer attempt always applies;
     *   <li>within one attempt the status never goes back (QUEUED, then RUNNING, then terminal): a
     *       QUEUED published by the gateway after a fast worker's RUNNING is ignored, and so is a
     *       RUNNING replayed after the terminal event;
     *   <li>an event equal in content to the current state changes nothing (no version bump).
     * </ul>
     */
    public JobState apply(JobEvent e) {
        if (!e.jobId().equals(jobId)) {
            throw new IllegalArgumentException("event of job " + e.jobId() + " applied to job " + jobId);
        }
        JobStatus next = JobStatus.of(e.type());
        if (e.attempt() < attempt) {
            return this;
        }
        if (e.attempt() == attempt && next.rank() < status.rank()) {
            return this;
        }
        Progress p = e.progress() != null ? e.progress() : progress;
        if (e.type() == JobEventType.SUCCEEDED && p != null) {
            p = new Progress(p.total(), p.total());
        }
        List<ResultObject> r = e.results() == null ? List.of() : e.results();
        if (next == status
                && e.type() == lastEvent
                && e.attempt() == attempt
                && Objects.equals(p, progress)
                && r.equals(results)
                && Objects.equals(e.failure(), failure)
                && Objects.equals(e.phase(), phase)
                && Objects.equals(e.message(), message)) {
            return this;
        }
        Instant created = e.timestamp().isBefore(createdAt) ? e.timestamp() : createdAt;
        Instant updated = e.timestamp().isAfter(updatedAt) ? e.timestamp() : updatedAt;
        return new JobState(
                jobId,
                next,
                e.type(),
                p,
                e.attempt(),
                created,
                updated,
                r,
                e.failure(),
                version + 1,
                e.phase(),
                e.message());
    }
}
