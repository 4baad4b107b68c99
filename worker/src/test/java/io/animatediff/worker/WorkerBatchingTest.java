package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.common.protocol.Seed;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Cross-job batching through the real broker and store: three compatible jobs queued together run
 * as one batch (one UNet call per step) and each stores the frames it stores when run alone; an
 * incompatible job queued with them runs alone; nothing runs twice. Frames are 8-bit: batched and
 * alone agree within one level everywhere, at most 2% of the values one level off (the engine's
 * BatchedGenerationTest measures the float differences behind it).
 */
class WorkerBatchingTest {
    /** One level of the 8-bit frames, and a little for the float conversion. */
    private static final double ATOL = 1.0 / 255 + 1e-6;

    private static GenerationRequest.Builder frames() {
        return FleetFixture.tinyRequest().outputFormats(List.of("frames"));
    }

    /** The float32 values of a {@code frames.safetensors} result (one tensor, after the JSON header). */
    private static float[] values(byte[] safetensors) {
        ByteBuffer b = ByteBuffer.wrap(safetensors).order(ByteOrder.LITTLE_ENDIAN);
        long header = b.getLong();
        b.position((int) (8 + header));
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    private static float[] stored(FleetFixture fleet, List<JobEvent> events) {
        JobEvent end = events.get(events.size() - 1);
        assertEquals(JobEventType.SUCCEEDED, end.type(), String.valueOf(end.failure()));
        ResultObject r = end.results().get(0);
        assertEquals("frames", r.format());
        return values(fleet.store.getBytes(r.key()));
    }

    @Test
    void compatibleJobsQueuedTogetherRunAsOneBatchWithTheirAloneResults() throws Exception {
        try (FleetFixture fleet = new FleetFixture()) {
            List<GenerationRequest> compatible = List.of(
                    frames().build(),
                    frames().prompt("a blue square")
                            .negativePrompt("blurry")
                            .seed(Seed.of(7))
                            .guidanceScale(3.0)
                            .build(),
                    frames().prompt("a green line")
                            .seed(Seed.of(99))
                            .guidanceScale(12.0)
                            .build());
            GenerationRequest incompatible = frames().numInferenceSteps(3).build();
            // one partition, the incompatible job last: the worker's first poll returns all four
            List<GenerationJob> jobs = new ArrayList<>();
            for (GenerationRequest r : compatible) {
                jobs.add(fleet.submitTo(0, r));
            }
            GenerationJob alone = fleet.submitTo(0, incompatible);
            Worker worker = fleet.startWorker("batcher", b -> b.batchMax(4));

            List<float[]> batched = new ArrayList<>();
            for (GenerationJob j : jobs) {
                List<JobEvent> events = fleet.awaitTerminal(j.jobId(), 1, Duration.ofSeconds(90));
                batched.add(stored(fleet, events));
                assertEquals(JobEventType.RUNNING, events.get(1).type(), "QUEUED, RUNNING, ...: " + events);
            }
            stored(fleet, fleet.awaitTerminal(alone.jobId(), 1, Duration.ofSeconds(60)));
            assertEquals(1, worker.metrics().batches(), "one batch");
            assertEquals(3, worker.metrics().batchedJobs(), "of the three compatible jobs; the fourth ran alone");
            assertTrue(worker.metrics().prometheus().contains("animatediff_worker_batched_jobs_total 3"));

            // the same requests one at a time: each runs alone and stores the same frames
            for (int k = 0; k < compatible.size(); k++) {
                float[] one = stored(
                        fleet,
                        fleet.awaitTerminal(fleet.submit(compatible.get(k)).jobId()));
                float[] b = batched.get(k);
                assertEquals(one.length, b.length);
                double norm = 0;
                int off = 0;
                for (int i = 0; i < one.length; i++) {
                    norm += Math.abs(one[i]);
                    off += b[i] == one[i] ? 0 : 1;
                    assertTrue(
                            Math.abs(b[i] - one[i]) <= ATOL,
                            "job " + k + " value " + i + ": batched " + b[i] + ", alone " + one[i]);
                }
                assertTrue(norm > 0, "frames are not all zero");
                assertTrue(off <= one.length / 50, "job " + k + ": " + off + " of " + one.length + " values differ");
            }
            assertEquals(1, worker.metrics().batches(), "single jobs do not batch");
            // nothing ran twice (every offset of the batch was committed once its jobs were done)
            for (GenerationJob j : jobs) {
                assertEquals(
                        1,
                        fleet.events(j.jobId()).stream()
                                .filter(JobEvent::isTerminal)
                                .count(),
                        "each batched job ended once");
            }
        }
    }
}
