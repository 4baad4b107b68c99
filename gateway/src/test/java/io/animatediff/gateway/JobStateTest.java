package io.animatediff.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.animatediff.common.protocol.Failure;
import io.animatediff.common.protocol.FailureCode;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.Progress;
import io.animatediff.common.protocol.ResultObject;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class JobStateTest {
    static final Instant T = Instant.parse("2025-01-01T00:00:00Z");
    static final ResultObject GIF = new ResultObject("gif", "results/j/animation.gif", 3, "a".repeat(64));

    @Test
    void foldsALifeFromQueuedToSucceeded() {
        JobState s = JobState.first(JobEvent.queued("j", T, 1));
        assertEquals(JobStatus.QUEUED, s.status());
        s = s.apply(JobEvent.running("j", T.plusSeconds(1), 1, "w", 4));
        s = s.apply(JobEvent.progress("j", T.plusSeconds(2), 1, "w", 3, 4));
        assertEquals(JobStatus.RUNNING, s.status());
        assertEquals(JobEventType.PROGRESS, s.lastEvent());
        assertEquals(new Progress(3, 4), s.progress());
        s = s.apply(JobEvent.succeeded("j", T.plusSeconds(3), 1, "w", List.of(GIF)));
        assertEquals(JobStatus.SUCCEEDED, s.status());
        assertEquals(new Progress(4, 4), s.progress());
        assertEquals(List.of(GIF), s.results());
        assertEquals(T, s.createdAt());
        assertEquals(T.plusSeconds(3), s.updatedAt());
        assertEquals(4, s.version());
    }

    @Test
    void neverMovesBackwardsWithinAnAttempt() {
        JobState running = JobState.first(JobEvent.running("j", T, 1, "w", 4));
        // the gateway's QUEUED landing after a fast worker's RUNNING
        assertSame(running, running.apply(JobEvent.queued("j", T.minusMillis(5), 1)));
        JobState done = running.apply(JobEvent.cancelled("j", T.plusSeconds(1), 1, "w"));
        // a redelivered job replaying RUNNING after its terminal event
        assertSame(done, done.apply(JobEvent.running("j", T.plusSeconds(2), 1, "w2", 4)));
        // a duplicate changes nothing
        assertSame(done, done.apply(JobEvent.cancelled("j", T.plusSeconds(1), 1, "w")));
    }

    @Test
    void aNewerAttemptAppliesAndAnOlderOneIsIgnored() {
        JobState failed = JobState.first(JobEvent.failed("j", T, 1, "w", new Failure(FailureCode.TIMEOUT, "slow")));
        JobState retry = failed.apply(JobEvent.running("j", T.plusSeconds(1), 2, "w2", 4));
        assertEquals(JobStatus.RUNNING, retry.status());
        assertEquals(2, retry.attempt());
        assertEquals(null, retry.failure());
        assertSame(retry, retry.apply(JobEvent.progress("j", T.plusSeconds(2), 1, "w", 2, 4)));
    }
}
