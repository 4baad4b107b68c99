package io.animatediff.gateway;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.CancelRequest;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.protocol.ResultObject;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/** Reads job states as HTTP views (with presigned result URLs), pages them, and cancels jobs. */
public final class JobService {
    /** Largest page size of {@code GET /v1/jobs}. */
    public static final int MAX_PAGE_SIZE = 100;

    private final JobStateView view;
    private final Function<String, URI> presignGet;
    private final JobPublisher publisher;
    private final Clock clock;
    private final Duration publishTimeout;

    /** One page of jobs. */
    public record JobList(
            @JsonProperty("jobs") List<JobView> jobs,
            @JsonProperty("page") int page,
            @JsonProperty("size") int size,
            @JsonProperty("total") long total) {}

    /** The answer to a cancel request. */
    public record CancelAccepted(
            @JsonProperty("job_id") String jobId,
            @JsonProperty("status") JobStatus status,
            @JsonProperty("links") JobView.Links links) {}

    /**
     * @param presignGet a presigned GET URL for an object key (the expiry is the caller's choice)
     */
    public JobService(
            JobStateView view,
            Function<String, URI> presignGet,
            JobPublisher publisher,
            Clock clock,
            Duration publishTimeout) {
        this.view = Objects.requireNonNull(view, "view");
        this.presignGet = Objects.requireNonNull(presignGet, "presignGet");
        this.publisher = Objects.requireNonNull(publisher, "publisher");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.publishTimeout = Objects.requireNonNull(publishTimeout, "publishTimeout");
    }

    /** The job's state; 404 naming the id when unknown. */
    public JobState state(String jobId) {
        if (!JobIds.isValid(jobId)) {
            throw ProblemException.notFound("job id '" + abbreviate(jobId) + "' is not a valid job id: use the"
                    + " job_id returned by POST /v1/animations");
        }
        return view.get(jobId)
                .orElseThrow(() -> ProblemException.notFound("no job '" + jobId + "' is known: check the id"
                        + " (jobs are known once POST /v1/animations answered 202)"));
    }

    public JobView get(String jobId) {
        return toView(state(jobId));
    }

    /** {@code GET /v1/jobs?status=&page=&size=}: page counts from 0, newest first. */
    public JobList list(String status, int page, int size) {
        return list(status, page, size, null);
    }

    /** {@link #list(String, int, int)} of the jobs submitted with the key of {@code ownerKeyHash} (null: all). */
    public JobList list(String status, int page, int size, String ownerKeyHash) {
        Optional<JobStatus> filter = Optional.empty();
        if (status != null && !status.isBlank()) {
            filter = JobStatus.find(status.trim());
            if (filter.isEmpty()) {
                throw ProblemException.badField(
                        "status", "status '" + abbreviate(status) + "' is unknown: use one of " + JobStatus.names());
            }
        }
        if (page < 0) {
            throw ProblemException.badField("page", "page is " + page + ": pages count from 0");
        }
        if (size < 1 || size > MAX_PAGE_SIZE) {
            throw ProblemException.badField(
                    "size", "size is " + size + ", allowed 1 to " + MAX_PAGE_SIZE + ": pass a size in that range");
        }
        JobStateView.Page p = ownerKeyHash == null
                ? view.list(filter, page, size)
                : view.list(filter, page, size, st -> JobOwners.isOwnedBy(st.jobId(), ownerKeyHash));
        return new JobList(p.items().stream().map(this::toView).toList(), page, size, p.total());
    }

    /**
     * Publishes a {@link CancelRequest} and waits for the broker's acknowledgement. 404 unknown job,
     * 409 when the job already ended.
     */
    public CancelAccepted cancel(String jobId, String reason) {
        JobState s = state(jobId);
        if (s.status().isTerminal()) {
            throw ProblemException.conflict(
                    "already_terminal",
                    "job " + jobId + " already ended with status " + s.status() + ": there is nothing to cancel");
        }
        CancelRequest request = CancelRequest.of(jobId, clock.instant(), reason);
        try {
            publisher
                    .send(Topics.CANCEL, jobId, Json.writeBytes(request))
                    .get(publishTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ProblemException.unavailable("interrupted while publishing the cancel request: retry");
        } catch (ExecutionException | TimeoutException e) {
            throw ProblemException.unavailable("the cancel request could not be published on Kafka within "
                    + publishTimeout + ": retry (cancelling twice is harmless)");
        }
        return new CancelAccepted(jobId, s.status(), JobView.Links.of(jobId));
    }

    /** The HTTP view of a state, presigning each result. */
    public JobView toView(JobState s) {
        List<JobView.Result> results = s.results().isEmpty()
                ? null
                : s.results().stream().map(this::result).toList();
        List<String> warnings = view.warnings(s.jobId());
        return new JobView(
                s.jobId(),
                s.status(),
                s.progress(),
                s.attempt(),
                s.createdAt(),
                s.updatedAt(),
                results,
                s.failure(),
                warnings.isEmpty() ? null : warnings,
                s.phase(),
                s.message());
    }

    private JobView.Result result(ResultObject r) {
        return new JobView.Result(
                r.format(),
                r.key(),
                r.size(),
                r.sha256(),
                presignGet.apply(r.key()).toString());
    }

    private static String abbreviate(String s) {
        return s == null || s.length() <= 80 ? String.valueOf(s) : s.substring(0, 77) + "...";
    }
}
