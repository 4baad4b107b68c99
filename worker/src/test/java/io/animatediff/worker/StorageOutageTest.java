package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.common.protocol.Seed;
import io.animatediff.common.store.Sha256;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A real storage outage while a job's results are written: S3Proxy is stopped once the job runs and
 * restarted a few seconds later. The worker reports that it waits for storage (a RUNNING event with
 * phase {@code waiting_for_storage}) and the job then succeeds once, with its results stored.
 */
class StorageOutageTest {
    static final Duration OUTAGE = Duration.ofSeconds(3);

    @Test
    void anOutageDuringTheUploadIsReportedAndTheJobSucceedsOnce() throws Exception {
        FleetFixture.InProcess infra = new FleetFixture.InProcess();
        try (FleetFixture fleet = new FleetFixture(infra)) {
            fleet.startWorker("w-patient", b -> b.storagePatience(Duration.ofSeconds(60)));
            // 1. a first job loads the models into the worker's memory: the outage then hits the upload
            GenerationJob warm = fleet.submit(FleetFixture.tinyRequest().build());
            assertEquals(
                    JobEventType.SUCCEEDED,
                    last(fleet.awaitTerminal(warm.jobId())).type());

            // 2. storage goes down while the job denoises
            GenerationJob job = fleet.submit(FleetFixture.tinyRequest()
                    .numInferenceSteps(60)
                    .seed(Seed.of(7))
                    .build());
            fleet.awaitEvent(job.jobId(), JobEventType.RUNNING, Duration.ofSeconds(60));
            infra.s3().stop();
            long down = System.nanoTime();
            JobEvent waiting = awaitWaiting(fleet, job.jobId(), Duration.ofSeconds(60));
            long left = OUTAGE.toNanos() - (System.nanoTime() - down);
            if (left > 0) {
                TimeUnit.NANOSECONDS.sleep(left);
            }
            List<JobEvent> before = fleet.events(job.jobId());
            assertTrue(before.stream().noneMatch(JobEvent::isTerminal), "the job ended while storage was down");
            infra.s3().restart();

            // 3. the waiting event: RUNNING, same attempt and worker, says what it waits for and when it retries
            assertEquals(JobEventType.RUNNING, waiting.type());
            assertEquals(1, waiting.attempt());
            assertEquals("w-patient", waiting.workerId());
            String prefix = ResultUploader.prefix(job.jobId());
            assertTrue(
                    waiting.message().startsWith("waiting for storage: writing " + prefix + "animation.gif failed"),
                    waiting.message());
            assertTrue(waiting.message().contains("next retry in "), waiting.message());

            // 4. one terminal event, SUCCEEDED, with exactly the stored results
            fleet.awaitTerminal(job.jobId());
            Thread.sleep(500); // a duplicate terminal event would show up by now
            List<JobEvent> events = fleet.events(job.jobId());
            List<JobEvent> terminal =
                    events.stream().filter(JobEvent::isTerminal).toList();
            assertEquals(
                    1,
                    terminal.size(),
                    events.stream()
                            .map(e -> e.type() + "/" + e.attempt())
                            .toList()
                            .toString());
            JobEvent done = terminal.get(0);
            assertEquals(JobEventType.SUCCEEDED, done.type());
            assertTrue(events.stream().allMatch(e -> e.attempt() == 1), "the outage used up an attempt");
            assertTrue(events.indexOf(done) > events.indexOf(waiting), "the waiting event came after the terminal one");
            List<ResultObject> results = done.results();
            assertEquals(
                    List.of(prefix + "animation.gif"),
                    results.stream().map(ResultObject::key).toList());
            assertEquals(1, fleet.store.list(prefix).size());
            byte[] gif = fleet.store.getBytes(results.get(0).key());
            assertEquals(results.get(0).sha256(), Sha256.hex(gif));
        }
    }

    private static JobEvent awaitWaiting(FleetFixture fleet, String jobId, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (JobEvent e : fleet.events(jobId)) {
                if (JobEvent.PHASE_WAITING_FOR_STORAGE.equals(e.phase())) {
                    return e;
                }
                if (e.isTerminal()) {
                    throw new AssertionError("job " + jobId + " ended (" + e.type()
                            + ") before storage was found down: the job was too short for the test");
                }
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("no waiting_for_storage event of job " + jobId + " within " + timeout);
            }
            Thread.sleep(10);
        }
    }

    private static JobEvent last(List<JobEvent> events) {
        return events.get(events.size() - 1);
    }
}
