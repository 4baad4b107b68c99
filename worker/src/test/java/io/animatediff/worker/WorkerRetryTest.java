package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.FailureCode;
import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.RetryPolicy;
import io.animatediff.common.store.S3ProxyServer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** Bounded attempts against a real fault: the worker's object store is down for the whole test. */
class WorkerRetryTest {
    @Test
    void retryableFailureIsRetriedThenDeadLetteredWithItsReason() throws Exception {
        try (FleetFixture fleet = new FleetFixture()) {
            S3ProxyServer gone = S3ProxyServer.startInMemory();
            ObjectStore down = new ObjectStore(gone.config(FleetFixture.BUCKET), RetryPolicy.NONE);
            gone.close(); // connection refused from now on
            Worker worker = fleet.startWorker(
                    "w-down", b -> b.maxAttempts(3).warmup(false).storagePatience(java.time.Duration.ZERO), down);

            GenerationJob job = fleet.submit(FleetFixture.tinyRequest().build());
            List<JobEvent> events = fleet.awaitTerminal(job.jobId());

            // QUEUED (gateway), QUEUED attempt 2, QUEUED attempt 3, FAILED attempt 3
            assertEquals(
                    List.of("QUEUED/1", "QUEUED/2", "QUEUED/3", "FAILED/3"),
                    events.stream().map(e -> e.type() + "/" + e.attempt()).toList());
            JobEvent failed = events.get(3);
            assertEquals(FailureCode.STORAGE_UNAVAILABLE, failed.failure().code());
            assertTrue(
                    failed.failure().reason().contains("attempt 3 of 3"),
                    failed.failure().reason());
            assertTrue(
                    failed.failure().reason().contains("ANIMATEDIFF_S3_ENDPOINT"),
                    failed.failure().reason());

            List<ConsumerRecord<String, byte[]>> dead = fleet.awaitDlq(job.jobId(), Duration.ofSeconds(10));
            assertEquals(1, dead.size());
            String header = new String(
                    dead.get(0)
                            .headers()
                            .lastHeader(EventPublisher.FAILURE_HEADER)
                            .value(),
                    StandardCharsets.UTF_8);
            assertTrue(header.startsWith("STORAGE_UNAVAILABLE: "), header);
            assertEquals(
                    "3",
                    new String(
                            dead.get(0)
                                    .headers()
                                    .lastHeader(EventPublisher.ATTEMPT_HEADER)
                                    .value(),
                            StandardCharsets.UTF_8));
            assertEquals(2, worker.metrics().jobs(WorkerMetrics.Outcome.RETRIED));
            assertEquals(1, worker.metrics().jobs(WorkerMetrics.Outcome.FAILED));
            assertEquals(JobEventType.FAILED, events.get(events.size() - 1).type());
        }
    }
}
