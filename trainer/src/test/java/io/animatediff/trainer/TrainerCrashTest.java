package io.animatediff.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.JobIds;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.S3ProxyServer;
import io.animatediff.engine.training.TrainingCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A trainer process killed with SIGKILL mid-run (after its step-2 checkpoint reached S3, its
 * record uncommitted); a trainer started afterwards (a new consumer group, so it reads the record
 * at once instead of waiting for the dead member's session to expire) resumes from the newest
 * complete checkpoint in S3 and finishes the job: its first progress step follows that checkpoint.
 */
class TrainerCrashTest {
    @Test
    void aKilledTrainerIsResumedFromItsLastCompleteCheckpoint() throws Exception {
        // the shared fixture of the end-to-end test: broker, S3Proxy, built-in model, dataset
        TrainerEndToEndTest.fleet();
        Process proc = null;
        try {
            Path log = TrainerEndToEndTest.dir.resolve("trainer-process.log");
            ProcessBuilder pb = new ProcessBuilder(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx1g",
                    "-Dai.djl.offline=true",
                    "-Dai.djl.pytorch.num_threads=1",
                    "-Dai.djl.pytorch.num_interop_threads=1",
                    "-cp",
                    System.getProperty("java.class.path"),
                    TrainerMain.class.getName());
            Map<String, String> env = pb.environment();
            env.put("KAFKA_BOOTSTRAP_SERVERS", TrainerEndToEndTest.kafka.bootstrapServers());
            env.put("ANIMATEDIFF_S3_ENDPOINT", TrainerEndToEndTest.s3.endpoint());
            env.put("ANIMATEDIFF_S3_ACCESS_KEY", S3ProxyServer.ACCESS_KEY);
            env.put("ANIMATEDIFF_S3_SECRET_KEY", S3ProxyServer.SECRET_KEY);
            env.put("ANIMATEDIFF_S3_BUCKET", TrainerEndToEndTest.BUCKET);
            env.put("ANIMATEDIFF_TRAINER_ID", "doomed");
            env.put("ANIMATEDIFF_TRAINER_GROUP", "crash-first");
            env.put(
                    "ANIMATEDIFF_TRAINER_WORK_DIR",
                    TrainerEndToEndTest.dir.resolve("doomed").toString());
            pb.redirectErrorStream(true).redirectOutput(log.toFile());
            // the fixture's in-process trainer is not started here: the process is the only trainer
            TrainerEndToEndTest.trainer.close();
            TrainerEndToEndTest.trainer = null;
            proc = pb.start();

            String id = JobIds.newId();
            TrainerEndToEndTest.submit(id, TrainerEndToEndTest.request("after-crash", 12));
            S3Checkpoints checkpoints = new S3Checkpoints(TrainerEndToEndTest.store, id);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!TrainerEndToEndTest.store.exists(checkpoints.stepPrefix(2) + TrainingCheckpoint.COMPLETE)) {
                assertTrue(proc.isAlive(), () -> "the trainer process died: " + read(log));
                assertTrue(System.nanoTime() < deadline, () -> "no step-2 checkpoint; log: " + read(log));
                Thread.sleep(20);
            }
            proc.destroyForcibly(); // SIGKILL: no shutdown hook, no commit
            assertTrue(proc.waitFor(30, TimeUnit.SECONDS));
            List<JobEvent> before = TrainerEndToEndTest.events.awaitAny(id);
            assertTrue(before.stream().noneMatch(JobEvent::isTerminal), "no terminal event before the crash");

            TrainerConfig heir = TrainerConfig.defaults(
                            TrainerEndToEndTest.kafka.bootstrapServers(),
                            TrainerEndToEndTest.store.config(),
                            TrainerEndToEndTest.dir.resolve("heir"))
                    .withIdAndWorkDir("heir", TrainerEndToEndTest.dir.resolve("heir"))
                    .withGroup("crash-second");
            TrainerEndToEndTest.trainer =
                    Trainer.start(heir, TrainerEndToEndTest.s3.newStore(TrainerEndToEndTest.BUCKET), true);
            List<JobEvent> e = TrainerEndToEndTest.events.awaitTerminal(id, Duration.ofSeconds(120));
            assertEquals(JobEventType.SUCCEEDED, e.get(e.size() - 1).type(), "events: " + e);
            int firstHeirStep = e.stream()
                    .filter(x -> x.type() == JobEventType.PROGRESS && "heir".equals(x.workerId()))
                    .findFirst()
                    .orElseThrow()
                    .progress()
                    .step();
            assertTrue(firstHeirStep >= 3, "the heir resumed after the step-2 checkpoint, first step " + firstHeirStep);
            assertTrue(
                    TrainerEndToEndTest.store.exists(
                            checkpoints.stepPrefix(firstHeirStep - 1) + TrainingCheckpoint.COMPLETE),
                    "the heir continues right after a complete checkpoint (step " + (firstHeirStep - 1) + ")");
            assertTrue(TrainerEndToEndTest.registry.exists(ModelKind.MOTION, "after-crash"));
            assertTrue(TrainerEndToEndTest.store.exists(
                    ModelRegistry.fileKey(ModelKind.MOTION, "after-crash", TrainingCheckpoint.MOTION_MODULE)));
        } finally {
            if (proc != null) {
                proc.destroyForcibly();
            }
            TrainerEndToEndTest.stop();
        }
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (java.io.IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
