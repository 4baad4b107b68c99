package io.animatediff.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.Failure;
import io.animatediff.common.protocol.FailureCode;
import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.validation.GenerationRequestValidator;
import io.animatediff.common.validation.ModelCatalog;
import io.animatediff.common.validation.TokenCounter;
import io.animatediff.common.validation.ValidationLimits;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** The submission rules with a recording publisher: no broker, no HTTP. */
class SubmissionServiceTest {
    static final String BODY =
            "{\"prompt\": \"a cat\", \"base_model\": \"b\", \"motion_module\": \"m\", \"width\": 64, \"height\": 64}";

    record Sent(String topic, String key, byte[] value) {}

    final List<Sent> sent = new CopyOnWriteArrayList<>();
    final JobStateView view = new JobStateView();
    final ModelCatalog catalog = ModelCatalog.of(Map.of(ModelKind.BASE, Set.of("b"), ModelKind.MOTION, Set.of("m")));

    SubmissionService service(JobPublisher publisher) {
        return new SubmissionService(
                new GenerationRequestValidator(ValidationLimits.DEFAULTS, catalog, TokenCounter.NONE),
                catalog,
                new FrameLimits(name -> Optional.empty(), 16, Duration.ofSeconds(1), System::nanoTime),
                view,
                new QueueQuota(view, 3, Duration.ofSeconds(7)),
                publisher,
                Clock.fixed(Instant.parse("2025-01-01T00:00:00Z"), ZoneOffset.UTC),
                Duration.ofSeconds(5));
    }

    SubmissionService service() {
        return service((topic, key, value) -> {
            sent.add(new Sent(topic, key, value));
            return CompletableFuture.completedFuture(null);
        });
    }

    @Test
    void publishesTheJobWithAFixedSeedAndItsQueuedEvent() {
        SubmissionService.Accepted a = service().submit(BODY, "h", null);
        assertEquals(JobStatus.QUEUED, a.status());
        assertEquals(2, sent.size());
        Sent job = sent.stream()
                .filter(s -> s.topic().equals(Topics.GENERATE))
                .findFirst()
                .orElseThrow();
        GenerationJob j = Json.read(job.value(), GenerationJob.class);
        assertEquals(a.jobId(), job.key());
        assertNotNull(j.request().seed());
        Sent event = sent.stream()
                .filter(s -> s.topic().equals(Topics.JOB_EVENTS))
                .findFirst()
                .orElseThrow();
        assertEquals(
                JobEventType.QUEUED, Json.read(event.value(), JobEvent.class).type());
        assertEquals(JobStatus.QUEUED, view.get(a.jobId()).orElseThrow().status());
    }

    @Test
    void idempotencyKeysReplayConflictAndScopeByApiKey() {
        SubmissionService s = service();
        String id = s.submit(BODY, "h", "k").jobId();
        SubmissionService.Accepted again = s.submit(BODY.replace(", ", ",\n  "), "h", "k");
        assertEquals(id, again.jobId());
        assertTrue(again.replayed());
        assertEquals(2, sent.size(), "a replay publishes nothing");
        ProblemException e =
                assertThrows(ProblemException.class, () -> s.submit(BODY.replace("a cat", "a dog"), "h", "k"));
        assertEquals(422, e.status());
        assertEquals("idempotency_conflict", e.reason());
        assertNotEquals(id, s.submit(BODY, "other", "k").jobId());
        // the same job id, and seed, from any replica
        String seed1 = Json.read(sent.get(1).value(), GenerationJob.class)
                .request()
                .seed()
                .toString();
        assertEquals(IdempotencyKeys.seedFor(id).toString(), seed1);
    }

    @Test
    void unknownModelsAre422AndOtherErrors400() {
        SubmissionService s = service();
        ProblemException unknown =
                assertThrows(ProblemException.class, () -> s.submit(BODY.replace("\"b\"", "\"nope\""), "h", null));
        assertEquals(422, unknown.status());
        assertEquals("base_model", unknown.problem().violations().get(0).field());
        // an unknown model next to a plain error: 400 listing both
        ProblemException mixed = assertThrows(
                ProblemException.class,
                () -> s.submit(BODY.replace("\"b\"", "\"nope\"").replace("64,", "65,"), "h", null));
        assertEquals(400, mixed.status());
        assertEquals(2, mixed.problem().violations().size());
        // more frames than the module encodes
        ProblemException frames = assertThrows(
                ProblemException.class, () -> s.submit(BODY.replace("}", ", \"num_frames\": 17}"), "h", null));
        assertEquals("num_frames", frames.problem().violations().get(0).field());
        ProblemException empty = assertThrows(ProblemException.class, () -> s.submit(" ", "h", null));
        assertEquals(400, empty.status());
        ProblemException badKey = assertThrows(ProblemException.class, () -> s.submit(BODY, "h", "x".repeat(300)));
        assertEquals("Idempotency-Key", badKey.problem().violations().get(0).field());
        assertTrue(sent.isEmpty());
    }

    @Test
    void theQueueQuotaCountsActiveJobsPerKeyAndSparesRetriesOfAcceptedOnes() {
        SubmissionService s = service();
        String first = s.submit(BODY, "h", "k1").jobId();
        String second = s.submit(BODY, "h", null).jobId();
        s.submit(BODY, "h", null);
        assertEquals(3, view.activeJobs(JobOwners.tag("h")));
        ProblemException full = assertThrows(ProblemException.class, () -> s.submit(BODY, "h", null));
        assertEquals(429, full.status());
        assertEquals("queue_quota", full.reason());
        assertEquals("7", full.headers().get("Retry-After"));
        assertTrue(
                full.problem().detail().contains("has 3 jobs queued or running, the limit is 3"),
                full.problem().detail());
        assertThrows(ProblemException.class, () -> s.submit(BODY, "h", "k2"), "a new idempotency key is a new job");
        assertEquals(6, sent.size(), "nothing was published for the refused ones");
        // a retry of an accepted job gets that job, another key is not affected
        SubmissionService.Accepted retry = s.submit(BODY, "h", "k1");
        assertEquals(first, retry.jobId());
        assertTrue(retry.replayed());
        s.submit(BODY, "other", null);
        // RUNNING still counts; a terminal state frees a place; a new attempt takes it again
        Instant t = Instant.parse("2025-01-01T00:00:01Z");
        view.apply(JobEvent.running(second, t, 1, "w", 2));
        assertThrows(ProblemException.class, () -> s.submit(BODY, "h", null));
        view.apply(JobEvent.failed(second, t, 1, "w", new Failure(FailureCode.INTERNAL, "x")));
        assertEquals(2, view.activeJobs(JobOwners.tag("h")));
        view.apply(JobEvent.queued(second, t, 2));
        assertEquals(3, view.activeJobs(JobOwners.tag("h")));
        view.apply(JobEvent.cancelled(second, t, 2, null));
        view.apply(JobEvent.cancelled(second, t, 2, null)); // a duplicate changes nothing
        assertEquals(2, view.activeJobs(JobOwners.tag("h")));
        assertEquals(JobStatus.QUEUED, s.submit(BODY, "h", null).status());
    }

    @Test
    void aJobKafkaDidNotTakeIs503AndMarkedFailed() {
        SubmissionService s = service((topic, key, value) -> {
            sent.add(new Sent(topic, key, value));
            return topic.equals(Topics.GENERATE)
                    ? CompletableFuture.failedFuture(new IllegalStateException("broker down"))
                    : CompletableFuture.completedFuture(null);
        });
        ProblemException e = assertThrows(ProblemException.class, () -> s.submit(BODY, "h", null));
        assertEquals(503, e.status());
        JobEvent last = Json.read(sent.get(sent.size() - 1).value(), JobEvent.class);
        assertEquals(JobEventType.FAILED, last.type());
    }

    @Test
    void theAnswerWaitsForBothAcknowledgementsWithoutHoldingTheCaller() {
        Map<String, CompletableFuture<Void>> acks = new java.util.concurrent.ConcurrentHashMap<>();
        SubmissionService s = service((topic, key, value) -> {
            sent.add(new Sent(topic, key, value));
            return acks.computeIfAbsent(topic, t -> new CompletableFuture<>());
        });
        // 1. the caller's thread returns before the broker acknowledged anything
        CompletableFuture<SubmissionService.Accepted> first = s.submitAsync(BODY, "h", "key-1");
        CompletableFuture<SubmissionService.Accepted> retry = s.submitAsync(BODY, "h", "key-1");
        assertEquals(2, sent.size(), "a retry in flight publishes nothing more");
        assertTrue(!first.isDone() && !retry.isDone());
        String jobId = Json.read(sent.get(0).value(), JobEvent.class).jobId();
        assertTrue(view.get(jobId).isEmpty(), "not in the view before the acknowledgements");
        // 2. QUEUED acknowledged, the job not yet: still no answer
        acks.get(Topics.JOB_EVENTS).complete(null);
        assertTrue(!first.isDone() && !retry.isDone());
        // 3. both acknowledged: 202 for the first, a replay of the same job for the retry
        acks.get(Topics.GENERATE).complete(null);
        assertEquals(jobId, first.join().jobId());
        assertEquals(JobStatus.QUEUED, first.join().status());
        assertTrue(!first.join().replayed());
        assertEquals(jobId, retry.join().jobId());
        assertTrue(retry.join().replayed());
        assertEquals(JobStatus.QUEUED, view.get(jobId).orElseThrow().status());
    }
}
