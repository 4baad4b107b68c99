package io.animatediff.gateway;

import io.animatediff.common.InvalidMessageException;
import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ModelNames;
import io.animatediff.common.protocol.Seed;
import io.animatediff.common.protocol.TrainingJob;
import io.animatediff.common.protocol.TrainingRequest;
import io.animatediff.common.store.Sha256;
import io.animatediff.common.validation.ModelCatalog;
import io.animatediff.common.validation.TrainingRequestValidator;
import io.animatediff.common.validation.Violation;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.ToIntFunction;

/**
 * Accepts training requests ({@code POST /v1/trainings}): parse strictly, validate with the shared
 * {@link TrainingRequestValidator}, resolve the {@code Idempotency-Key} as for animations (job id
 * {@code ik-<scope>-<requestHash>}), fix the seed, publish QUEUED and the {@link TrainingJob} on
 * {@code animatediff.train} and wait for both acknowledgements.
 */
public final class TrainingSubmissionService {
    /** Frames of a fresh (v1) motion module, when no motion_module is given. */
    static final int FRESH_MOTION_FRAMES = 24;

    private final TrainingRequestValidator validator;
    private final ModelCatalog catalog;
    private final ToIntFunction<String> maxFrames;
    private final JobStateView view;
    private final QueueQuota quota;
    private final JobPublisher publisher;
    private final Clock clock;
    private final Duration publishTimeout;

    public TrainingSubmissionService(
            ModelCatalog catalog,
            ToIntFunction<String> maxFrames,
            JobStateView view,
            QueueQuota quota,
            JobPublisher publisher,
            Clock clock,
            Duration publishTimeout) {
        this.quota = Objects.requireNonNull(quota, "quota");
        this.validator = new TrainingRequestValidator(catalog);
        this.catalog = catalog;
        this.maxFrames = maxFrames;
        this.view = view;
        this.publisher = publisher;
        this.clock = clock;
        this.publishTimeout = publishTimeout;
    }

    /** Submits one request; refusals are {@link ProblemException}s (400, 422, 429, 503). */
    public SubmissionService.Accepted submit(String body, String apiKeyHash, String idempotencyKey) {
        TrainingRequest request = parse(body);
        int frames = request.motionModule().isEmpty() || !ModelNames.isValid(request.motionModule())
                ? FRESH_MOTION_FRAMES
                : maxFrames.applyAsInt(request.motionModule());
        List<Violation> violations = validator.validate(request, frames);
        List<Violation> errors = Violation.errors(violations);
        if (!errors.isEmpty()) {
            List<Problem.FieldViolation> fields =
                    errors.stream().map(Problem.FieldViolation::of).toList();
            String detail = errors.size() == 1
                    ? errors.get(0).message()
                    : errors.size() + " problems: "
                            + String.join(
                                    "; ",
                                    errors.stream().map(Violation::message).toList());
            boolean onlyUnknownModels = errors.stream().allMatch(v -> unknownModel(request, v.field()));
            throw onlyUnknownModels
                    ? ProblemException.unprocessable("unknown_model", "Unknown model", detail, fields)
                    : ProblemException.badRequest(detail, fields);
        }
        List<Violation> warnings = Violation.warnings(violations);
        if (idempotencyKey == null) {
            quota.check(apiKeyHash);
            return publish(JobOwners.own(JobIds.newId(), apiKeyHash), request, warnings);
        }
        String scope = IdempotencyKeys.scope(apiKeyHash, IdempotencyKeys.check(idempotencyKey));
        String requestHash = Sha256.hex(Json.writeBytes(request)).substring(0, 32);
        var existing = view.findByIdempotencyScope(scope);
        if (existing.isPresent()) {
            if (!IdempotencyKeys.requestHashOf(existing.get().jobId())
                    .orElse("")
                    .equals(requestHash)) {
                throw ProblemException.unprocessable(
                        "idempotency_conflict",
                        "Idempotency key reused",
                        "this Idempotency-Key was already used with a different request body: send the original"
                                + " body to get its job, or use a new key for a new request",
                        List.of(new Problem.FieldViolation(
                                IdempotencyKeys.HEADER, "already used with a different request body")));
            }
            return new SubmissionService.Accepted(
                    existing.get().jobId(), existing.get().status(), warnings, true);
        }
        quota.check(apiKeyHash);
        return publish(JobOwners.own(IdempotencyKeys.jobId(scope, requestHash), apiKeyHash), request, warnings);
    }

    private boolean unknownModel(TrainingRequest r, String field) {
        return switch (field) {
            case "base_model" -> ModelNames.isValid(r.baseModel()) && !catalog.contains(ModelKind.BASE, r.baseModel());
            case "motion_module" ->
                ModelNames.isValid(r.motionModule()) && !catalog.contains(ModelKind.MOTION, r.motionModule());
            default -> false;
        };
    }

    static TrainingRequest parse(String body) {
        if (body == null || body.isBlank()) {
            throw ProblemException.badField(
                    "",
                    "the request body is empty: send a JSON object with at least kind, dataset_uri, base_model and"
                            + " output_name");
        }
        try {
            return Json.readStrict(body, TrainingRequest.class);
        } catch (InvalidMessageException e) {
            throw ProblemException.badRequest(
                    e.getMessage(), List.of(new Problem.FieldViolation(e.field(), e.problem())));
        }
    }

    private SubmissionService.Accepted publish(String jobId, TrainingRequest request, List<Violation> warnings) {
        Seed seed = request.seed() != null
                ? request.seed()
                : IdempotencyKeys.scopeOf(jobId).isPresent() ? IdempotencyKeys.seedFor(jobId) : Seed.random();
        Instant now = clock.instant();
        TrainingJob job = TrainingJob.create(jobId, now, request.withSeed(seed));
        JobEvent queued = JobEvent.queued(jobId, now, 1);
        CompletableFuture<Void> event = publisher.send(Topics.JOB_EVENTS, jobId, Json.writeBytes(queued));
        CompletableFuture<Void> sent = publisher.send(Topics.TRAIN, jobId, Json.writeBytes(job));
        try {
            CompletableFuture.allOf(event, sent).get(publishTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ProblemException.unavailable("interrupted while queueing the training job: retry");
        } catch (ExecutionException | TimeoutException e) {
            throw ProblemException.unavailable("the training job could not be queued on Kafka within " + publishTimeout
                    + " (" + e + "): retry later with the same Idempotency-Key");
        }
        view.apply(queued);
        return new SubmissionService.Accepted(jobId, JobStatus.QUEUED, warnings, false);
    }
}
