package io.animatediff.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.JobEvent;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class JobStateViewTest {
    static final Instant T = Instant.parse("2025-01-01T00:00:00Z");

    @Test
    void listsNewestFirstPagedAndFiltered() {
        JobStateView view = new JobStateView();
        for (int i = 0; i < 5; i++) {
            view.apply(JobEvent.queued("j" + i, T.plusSeconds(i), 1));
        }
        view.apply(JobEvent.running("j1", T.plusSeconds(10), 1, "w", 2));
        JobStateView.Page first = view.list(Optional.empty(), 0, 2);
        assertEquals(
                List.of("j4", "j3"), first.items().stream().map(JobState::jobId).toList());
        assertEquals(5, first.total());
        assertEquals(
                List.of("j0"),
                view.list(Optional.empty(), 2, 2).items().stream()
                        .map(JobState::jobId)
                        .toList());
        assertTrue(view.list(Optional.empty(), 9, 2).items().isEmpty());
        JobStateView.Page running = view.list(Optional.of(JobStatus.RUNNING), 0, 10);
        assertEquals(
                List.of("j1"), running.items().stream().map(JobState::jobId).toList());
    }

    @Test
    void listenersHearEachChangeOnceUntilClosed() throws Exception {
        JobStateView view = new JobStateView();
        List<JobStatus> heard = new ArrayList<>();
        AutoCloseable sub = view.subscribe("j", s -> heard.add(s.status()));
        view.apply(JobEvent.queued("j", T, 1));
        view.apply(JobEvent.queued("j", T, 1)); // duplicate: no change
        view.apply(JobEvent.running("j", T, 1, "w", 2));
        view.apply(JobEvent.queued("other", T, 1));
        sub.close();
        view.apply(JobEvent.cancelled("j", T, 1, "w"));
        assertEquals(List.of(JobStatus.QUEUED, JobStatus.RUNNING), heard);
    }

    @Test
    void indexesIdempotentJobsByScope() {
        JobStateView view = new JobStateView();
        String scope = IdempotencyKeys.scope("h", "key-1");
        String id = IdempotencyKeys.jobId(scope, "b".repeat(32));
        view.apply(JobEvent.queued(id, T, 1));
        assertEquals(id, view.findByIdempotencyScope(scope).orElseThrow().jobId());
        assertTrue(
                view.findByIdempotencyScope(IdempotencyKeys.scope("h", "key-2")).isEmpty());
    }
}
