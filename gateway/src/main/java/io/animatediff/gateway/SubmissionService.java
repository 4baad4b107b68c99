package io.animatediff.gateway;

import io.animatediff.common.InvalidMessageException;
import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.Failure;
import io.animatediff.common.protocol.FailureCode;
import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.GenerationRequest.Fields;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.protocol.LoraSpec;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ModelNames;
import io.animatediff.common.protocol.Seed;
import io.animatediff.common.trace.JobContext;
import io.animatediff.common.validation.GenerationRequestValidator;
import io.animatediff.common.validation.ModelCatalog;
import io.animatediff.common.validation.Violation;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Accepts generation requests: parse strictly, validate with the shared validator, resolve the
 * {@code Idempotency-Key}, fix the seed, publish the {@link GenerationJob} and its QUEUED
 * {@link JobEvent}, and answer once Kafka acknowledged both (acks=all), without a thread waiting
 * for the acknowledgements ({@link #submitAsync}).
 *
 * <p>Refusals are {@link ProblemException}s: 400 naming every bad field; 422 {@code unknown_model}
 * when the only errors are models that are not registered; 422 {@code idempotency_conflict} when a
 * key is reused with another body; 429 when the key has its {@link QueueQuota} of active jobs (a
 * retry of an accepted job is answered with that job); 503 when Kafka did not acknowledge in time.
 */
public final class SubmissionService {
    private static final Logger LOG = Logger.getLogger(SubmissionService.class.getName());

    private final GenerationRequestValidator validator;
    private final ModelCatalog catalog;
    private final FrameLimits frameLimits;
    private final JobStateView view;
    private final QueueQuota quota;
    private final JobPublisher publisher;
    private final Clock clock;
    private final Duration publishTimeout;
    private final ConcurrentHashMap<String, InFlight> inFlight = new ConcurrentHashMap<>();

    /** A submission under an idempotency scope that is still being published by this replica. */
    private record InFlight(String requestHash, CompletableFuture<Accepted> done) {}

    /**
     * An accepted job.
     *
     * @param jobId its id
     * @param status its status now (QUEUED for a new job; the current one for a replay)
     * @param warnings validator warnings (e.g. a prompt longer than the text encoder reads)
     * @param replayed whether an earlier submission with the same idempotency key produced it
     */
    public record Accepted(String jobId, JobStatus status, List<Violation> warnings, boolean replayed) {}

    public SubmissionService(
            GenerationRequestValidator validator,
            ModelCatalog catalog,
            FrameLimits frameLimits,
            JobStateView view,
            QueueQuota quota,
            JobPublisher publisher,
            Clock clock,
            Duration publishTimeout) {
        this.quota = Objects.requireNonNull(quota, "quota");
        this.validator = Objects.requireNonNull(validator, "validator");
        this.catalog = Objects.requireNonNull(catalog, "catalog");
        this.frameLimits = Objects.requireNonNull(frameLimits, "frameLimits");
        this.view = Objects.requireNonNull(view, "view");
        this.publisher = Objects.requireNonNull(publisher, "publisher");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.publishTimeout = Objects.requireNonNull(publishTimeout, "publishTimeout");
    }

    /**
     * Submits one request and waits for its answer (see {@link #submitAsync}).
     *
     * @param body the HTTP body (JSON {@link GenerationRequest})
     * @param apiKeyHash the caller's key hash (scopes idempotency keys)
     * @param idempotencyKey the {@code Idempotency-Key} header, or null
     */
    public Accepted submit(String body, String apiKeyHash, String idempotencyKey) {
        try {
            return submitAsync(body, apiKeyHash, idempotencyKey).join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    /**
     * Submits one request without waiting on the calling thread: parsing, validation, the
     * idempotency lookup and the quota check run here (a refusal is thrown at once); the returned
     * future completes, on the producer's callback thread, once Kafka acknowledged both records
     * (acks=all), or fails with a {@link ProblemException} (503) when it did not within the publish
     * timeout.
     *
     * @param body the HTTP body (JSON {@link GenerationRequest})
     * @param apiKeyHash the caller's key hash (scopes idempotency keys)
     * @param idempotencyKey the {@code Idempotency-Key} header, or null
     */
    public CompletableFuture<Accepted> submitAsync(String body, String apiKeyHash, String idempotencyKey) {
        // 1. parse and validate
        GenerationRequest request = parse(body);
        List<Violation> violations = validator.validate(request, frameLimits.maxFrames(request.motionModule()));
        if (Violation.hasErrors(violations)) {
            throw refusal(request, Violation.errors(violations));
        }
        List<Violation> warnings = Violation.warnings(violations);
        if (idempotencyKey == null) {
            quota.check(apiKeyHash);
            return publish(JobOwners.own(JobIds.newId(), apiKeyHash), request, warnings);
        }
        // 2. idempotency: the job id records the key's scope and the request's hash
        String scope = IdempotencyKeys.scope(apiKeyHash, IdempotencyKeys.check(idempotencyKey));
        String requestHash = IdempotencyKeys.requestHash(request);
        var existing = view.findByIdempotencyScope(scope);
        if (existing.isPresent()) {
            return CompletableFuture.completedFuture(
                    replay(existing.get().jobId(), requestHash, existing.get().status(), warnings));
        }
        InFlight mine = new InFlight(requestHash, new CompletableFuture<>());
        InFlight first = inFlight.putIfAbsent(scope, mine);
        if (first != null) {
            if (!first.requestHash().equals(requestHash)) {
                throw conflict();
            }
            return awaitFirst(first.done())
                    .thenApply(a -> new Accepted(
                            a.jobId(), view.get(a.jobId()).map(JobState::status).orElse(a.status()), warnings, true));
        }
        CompletableFuture<Accepted> out;
        try {
            // a replica may have folded the job between the lookup above and the reservation
            existing = view.findByIdempotencyScope(scope);
            if (existing.isPresent()) {
                out = CompletableFuture.completedFuture(replay(
                        existing.get().jobId(), requestHash, existing.get().status(), warnings));
            } else {
                quota.check(apiKeyHash); // a new job only: a retry of an accepted one is never refused
                out = publish(JobOwners.own(IdempotencyKeys.jobId(scope, requestHash), apiKeyHash), request, warnings);
            }
        } catch (RuntimeException e) {
            mine.done().completeExceptionally(e);
            inFlight.remove(scope, mine);
            throw e;
        }
        // retries waiting on this submission hear its outcome; later ones find the job in the view
        return out.whenComplete((a, e) -> {
            if (e == null) {
                mine.done().complete(a);
            } else {
                mine.done().completeExceptionally(unwrap(e));
            }
            inFlight.remove(scope, mine);
        });
    }

    static GenerationRequest parse(String body) {
        if (body == null || body.isBlank()) {
            throw ProblemException.badField(
                    "",
                    "the request body is empty: send a JSON object with at least prompt, base_model and"
                            + " motion_module");
        }
        try {
            GenerationRequest request = Json.readStrict(body, GenerationRequest.class);
            if (request == null) {
                throw ProblemException.badField(
                        "",
                        "the request body is JSON null: send a JSON object with at least prompt, base_model and"
                                + " motion_module");
            }
            return request;
        } catch (InvalidMessageException e) {
            throw ProblemException.badRequest(
                    e.getMessage(), List.of(new Problem.FieldViolation(e.field(), e.problem())));
        }
    }

    /** 422 when every error is an unregistered model, else 400 listing every error. */
    private ProblemException refusal(GenerationRequest request, List<Violation> errors) {
        Set<String> unknown = unknownModelFields(request);
        List<Problem.FieldViolation> fields =
                errors.stream().map(Problem.FieldViolation::of).toList();
        String detail = errors.size() == 1
                ? errors.get(0).message()
                : errors.size() + " problems: "
                        + String.join(
                                "; ", errors.stream().map(Violation::message).toList());
        if (errors.stream().allMatch(v -> unknown.contains(v.field()))) {
            return ProblemException.unprocessable("unknown_model", "Unknown model", detail, fields);
        }
        return ProblemException.badRequest(detail, fields);
    }

    /** Fields naming a well-formed model name that the catalog does not hold. */
    private Set<String> unknownModelFields(GenerationRequest r) {
        Set<String> out = new HashSet<>();
        unknown(out, Fields.BASE_MODEL, r.baseModel(), ModelKind.BASE);
        unknown(out, Fields.MOTION_MODULE, r.motionModule(), ModelKind.MOTION);
        for (int i = 0; i < r.loras().size(); i++) {
            unknown(out, Fields.LORAS + "[" + i + "].name", r.loras().get(i).name(), ModelKind.LORA);
        }
        List<LoraSpec> ml = r.motionLoras();
        for (int i = 0; i < ml.size(); i++) {
            unknown(out, Fields.MOTION_LORAS + "[" + i + "].name", ml.get(i).name(), ModelKind.MOTION_LORA);
        }
        return out;
    }

    private void unknown(Set<String> out, String field, String name, ModelKind kind) {
        if (ModelNames.isValid(name) && !catalog.contains(kind, name)) {
            out.add(field);
        }
    }

    private Accepted replay(String jobId, String requestHash, JobStatus status, List<Violation> warnings) {
        if (!IdempotencyKeys.requestHashOf(jobId).orElse("").equals(requestHash)) {
            throw conflict();
        }
        return new Accepted(jobId, status, warnings, true);
    }

    private static ProblemException conflict() {
        return ProblemException.unprocessable(
                "idempotency_conflict",
                "Idempotency key reused",
                "this Idempotency-Key was already used with a different request body: send the original body to"
                        + " get its job, or use a new key for a new request",
                List.of(new Problem.FieldViolation(
                        IdempotencyKeys.HEADER, "already used with a different request body")));
    }

    // ---------------------------------------------------------------- publish

    private CompletableFuture<Accepted> publish(String jobId, GenerationRequest request, List<Violation> warnings) {
        // 1. fix the seed, so the job (and any redelivery) is reproducible
        Seed seed = request.seed() != null
                ? request.seed()
                : IdempotencyKeys.scopeOf(jobId).isPresent() ? IdempotencyKeys.seedFor(jobId) : Seed.random();
        Instant now = clock.instant();
        GenerationJob job = GenerationJob.create(jobId, now, request.withSeed(seed));
        JobEvent queued = JobEvent.queued(jobId, now, 1);
        // 2. both messages at once; within an attempt the state view never moves back to QUEUED.
        //    Nobody waits: both acknowledgements (acks=all) complete the answer on the producer's thread
        CompletableFuture<Void> event = publisher.send(Topics.JOB_EVENTS, jobId, Json.writeBytes(queued));
        CompletableFuture<Void> sent = publisher.send(Topics.GENERATE, jobId, Json.writeBytes(job));
        CompletableFuture<Accepted> out = new CompletableFuture<>();
        Map<String, String> context = JobContext.current();
        CompletableFuture.allOf(event, sent)
                .orTimeout(publishTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((ok, e) -> {
                    if (e != null) {
                        // off the producer's thread: marking the job FAILED publishes once more
                        CompletableFuture.runAsync(() -> {
                            try (JobContext.Scope scope = JobContext.open(context)) {
                                out.completeExceptionally(failedToQueue(jobId, event, sent, unwrap(e)));
                            }
                        });
                        return;
                    }
                    try {
                        // 3. known here at once, before the state-view consumer reads the event back
                        view.apply(queued);
                        if (!warnings.isEmpty()) {
                            view.putWarnings(
                                    jobId,
                                    warnings.stream().map(Violation::message).toList());
                        }
                        out.complete(new Accepted(jobId, JobStatus.QUEUED, warnings, false));
                    } catch (RuntimeException x) {
                        out.completeExceptionally(x);
                    }
                });
        return out;
    }

    /** When QUEUED landed but the job did not, marks the job FAILED so nobody waits for it. */
    private ProblemException failedToQueue(
            String jobId, CompletableFuture<Void> event, CompletableFuture<Void> sent, Throwable cause) {
        LOG.log(Level.WARNING, "could not queue job " + jobId, cause);
        if (event.isDone()
                && !event.isCompletedExceptionally()
                && !(sent.isDone() && !sent.isCompletedExceptionally())) {
            JobEvent failed = JobEvent.failed(
                    jobId,
                    clock.instant(),
                    1,
                    null,
                    new Failure(FailureCode.INTERNAL, "the gateway could not queue the job on Kafka: submit it again"));
            publisher.send(Topics.JOB_EVENTS, jobId, Json.writeBytes(failed));
        }
        return ProblemException.unavailable("the job could not be queued on Kafka within " + publishTimeout + " ("
                + rootMessage(cause) + "): retry later with the same Idempotency-Key");
    }

    /** The first submission's outcome, as a retry with the same key sees it. */
    private CompletableFuture<Accepted> awaitFirst(CompletableFuture<Accepted> first) {
        CompletableFuture<Accepted> out = new CompletableFuture<>();
        first.copy()
                .orTimeout(publishTimeout.toMillis() * 2, TimeUnit.MILLISECONDS)
                .whenComplete((a, e) -> {
                    Throwable t = e == null ? null : unwrap(e);
                    if (t == null) {
                        out.complete(a);
                    } else if (t instanceof ProblemException pe) {
                        out.completeExceptionally(pe);
                    } else if (t instanceof TimeoutException) {
                        out.completeExceptionally(ProblemException.unavailable(
                                "the first submission with this Idempotency-Key is still being queued: retry with the"
                                        + " same key"));
                    } else {
                        out.completeExceptionally(
                                ProblemException.unavailable("the first submission with this Idempotency-Key failed ("
                                        + rootMessage(t) + "): retry with the same key"));
                    }
                });
        return out;
    }

    static Throwable unwrap(Throwable e) {
        return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
    }
}
