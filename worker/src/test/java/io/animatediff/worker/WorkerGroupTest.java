package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.worker.WorkerMetrics.Outcome;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Two workers in one group with {@code max.poll.interval.ms} = 3 s: a job twice that long runs
 * exactly once, and a worker stopped mid-job (what SIGTERM does) leaves it to the other.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WorkerGroupTest {
    private static final Duration MAX_POLL_INTERVAL = Duration.ofSeconds(3);
    private static final Duration LONG_JOB = Duration.ofSeconds(8);

    private FleetFixture fleet;
    private Worker a;
    private Worker b;
    private GenerationRequest longJob;

    @BeforeAll
    void start() throws Exception {
        fleet = new FleetFixture();
        a = fleet.startWorker("wa", c -> c.maxPollInterval(MAX_POLL_INTERVAL));
        b = fleet.startWorker("wb", c -> c.maxPollInterval(MAX_POLL_INTERVAL));
        awaitBalanced();
        longJob = calibrate();
    }

    @AfterAll
    void stop() throws Exception {
        fleet.close();
    }

    @Test
    @Order(1)
    void jobLongerThanMaxPollIntervalRunsExactlyOnce() throws Exception {
        long succeeded0 = succeeded();
        GenerationJob job = fleet.submit(longJob);
        List<JobEvent> events = fleet.awaitTerminal(job.jobId(), 1, Duration.ofSeconds(90));
        Thread.sleep(MAX_POLL_INTERVAL.toMillis() + 1000); // a second delivery would show by now
        events = fleet.events(job.jobId());

        JobEvent running = only(events, JobEventType.RUNNING);
        JobEvent done = only(events, JobEventType.SUCCEEDED);
        Duration took = Duration.between(running.timestamp(), done.timestamp());
        System.out.printf(
                "long job took %d ms (max.poll.interval.ms %d)%n", took.toMillis(), MAX_POLL_INTERVAL.toMillis());
        assertTrue(took.compareTo(MAX_POLL_INTERVAL) > 0, "the job must outlast max.poll.interval.ms: " + took);
        assertEquals(running.workerId(), done.workerId());
        assertEquals(succeeded0 + 1, succeeded(), "results written more than once");
        assertEquals(0, a.metrics().jobs(Outcome.RELEASED) + b.metrics().jobs(Outcome.RELEASED));
    }

    @Test
    @Order(2)
    void stoppedWorkerLeavesItsUnfinishedJobToTheOther() throws Exception {
        GenerationJob job = fleet.submit(longJob);
        fleet.awaitEvent(job.jobId(), JobEventType.PROGRESS, Duration.ofSeconds(30));
        String first = fleet.events(job.jobId()).stream()
                .filter(e -> e.type() == JobEventType.RUNNING)
                .findFirst()
                .orElseThrow()
                .workerId();
        Worker stopping = first.equals("wa") ? a : b;
        Worker other = stopping == a ? b : a;
        long stoppedSucceeded = stopping.metrics().jobs(Outcome.SUCCEEDED);
        stopping.close(); // what the SIGTERM hook runs

        List<JobEvent> events = fleet.awaitTerminal(job.jobId(), 1, Duration.ofSeconds(90));
        JobEvent done = events.get(events.size() - 1);
        assertEquals(JobEventType.SUCCEEDED, done.type());
        assertEquals(other.config().workerId(), done.workerId());
        assertNotEquals(first, done.workerId());
        List<String> runners = events.stream()
                .filter(e -> e.type() == JobEventType.RUNNING)
                .map(JobEvent::workerId)
                .toList();
        assertEquals(List.of(first, other.config().workerId()), runners);
        assertEquals(1, stopping.metrics().jobs(Outcome.RELEASED), "the stopped worker must not commit the job");
        assertEquals(stoppedSucceeded, stopping.metrics().jobs(Outcome.SUCCEEDED));
    }

    // ------------------------------------------------------------------ helpers

    private long succeeded() {
        return a.metrics().jobs(Outcome.SUCCEEDED) + b.metrics().jobs(Outcome.SUCCEEDED);
    }

    private static JobEvent only(List<JobEvent> events, JobEventType type) {
        List<JobEvent> found = events.stream().filter(e -> e.type() == type).toList();
        assertEquals(
                1,
                found.size(),
                type + " events: "
                        + events.stream()
                                .map(e -> e.type() + "@" + e.workerId())
                                .toList());
        return found.get(0);
    }

    private void awaitBalanced() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            Set<TopicPartition> all = new HashSet<>(a.assignment());
            all.addAll(b.assignment());
            if (!a.assignment().isEmpty() && !b.assignment().isEmpty() && all.size() == FleetFixture.PARTITIONS) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("group did not balance: " + a.assignment() + " / " + b.assignment());
            }
            Thread.sleep(50);
        }
    }

    /** A request that runs about {@link #LONG_JOB} on this machine, from a timed 8-step run. */
    private GenerationRequest calibrate() throws Exception {
        GenerationRequest.Builder r =
                FleetFixture.tinyRequest().width(128).height(128).numFrames(8);
        int probeSteps = 8;
        List<JobEvent> events = fleet.awaitTerminal(
                fleet.submit(r.numInferenceSteps(probeSteps).build()).jobId(), 1, Duration.ofSeconds(60));
        List<JobEvent> progress =
                events.stream().filter(e -> e.type() == JobEventType.PROGRESS).toList();
        double perStep = Duration.between(
                                progress.get(0).timestamp(),
                                progress.get(progress.size() - 1).timestamp())
                        .toNanos()
                / (double) (probeSteps - 1);
        // at least 40 steps: a slow calibration on this shared machine must not yield a short job
        int steps = (int) Math.min(150, Math.max(40, Math.ceil(LONG_JOB.toNanos() / perStep)));
        System.out.printf("calibration: %.1f ms per step at 128x128x8 -> %d steps%n", perStep / 1e6, steps);
        return r.numInferenceSteps(steps).build();
    }
}
