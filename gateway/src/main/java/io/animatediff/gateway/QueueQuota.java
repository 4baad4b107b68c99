package io.animatediff.gateway;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A queue quota per API key: a key may have at most {@code maxActivePerKey} jobs QUEUED or RUNNING
 * (generations and trainings, counted by {@link JobStateView#activeJobs}), so one client cannot
 * fill the fleet's queue. Checked before a new job is published only: accepted jobs are never
 * affected and a retry with the {@code Idempotency-Key} of an accepted job still gets that job.
 *
 * <p>The count is the view's: jobs submitted through this replica count at once, jobs submitted
 * through another replica once their QUEUED event was folded; concurrent submissions with one key
 * may therefore pass the limit by the number in flight.
 */
public final class QueueQuota {
    private final JobStateView view;
    private final int maxActivePerKey;
    private final Duration retryAfter;

    /**
     * @param maxActivePerKey most jobs a key may have QUEUED or RUNNING (>= 1)
     * @param retryAfter the {@code Retry-After} of a refusal (whole seconds, >= 1 s)
     */
    public QueueQuota(JobStateView view, int maxActivePerKey, Duration retryAfter) {
        this.view = Objects.requireNonNull(view, "view");
        if (maxActivePerKey < 1) {
            throw new IllegalArgumentException(
                    "animatediff.queue-quota.max-active-jobs-per-key is " + maxActivePerKey + ": set it to 1 or more");
        }
        if (retryAfter.toSeconds() < 1) {
            throw new IllegalArgumentException(
                    "animatediff.queue-quota.retry-after is " + retryAfter + ": set it to 1 second or more");
        }
        this.maxActivePerKey = maxActivePerKey;
        this.retryAfter = retryAfter;
    }

    public int maxActivePerKey() {
        return maxActivePerKey;
    }

    /** 429 with {@code Retry-After} when the key already has its quota of active jobs. */
    public void check(String apiKeyHash) {
        int active = view.activeJobs(JobOwners.tag(apiKeyHash));
        if (active < maxActivePerKey) {
            return;
        }
        throw new ProblemException(
                "queue_quota",
                Problem.of(
                        429,
                        "queue-quota-exceeded",
                        "Queue quota exceeded",
                        "this API key has " + active + " jobs queued or running, the limit is " + maxActivePerKey
                                + " per key: wait until some finish (GET /v1/jobs?status=QUEUED and ?status=RUNNING"
                                + " list them) or cancel some (POST /v1/jobs/{id}/cancel), then submit again;"
                                + " jobs already accepted are not affected",
                        List.of(new Problem.FieldViolation(
                                "Authorization", active + " active jobs, limit " + maxActivePerKey + " per key"))),
                Map.of("Retry-After", Long.toString(retryAfter.toSeconds())));
    }
}
