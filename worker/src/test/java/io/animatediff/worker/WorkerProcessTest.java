package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.store.S3ProxyServer;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link WorkerMain} as a real process configured by environment: it becomes ready, runs a job,
 * and on SIGTERM leaves its unfinished job uncommitted so another worker finishes it.
 */
class WorkerProcessTest {
    @Test
    void processRunsJobsAndHandsItsJobOverOnSigterm() throws Exception {
        try (FleetFixture fleet = new FleetFixture()) {
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            Path log = fleet.dir.resolve("worker-process.log");
            ProcessBuilder pb = new ProcessBuilder(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx1g",
                    "-Dai.djl.offline=true",
                    "-Dai.djl.pytorch.num_threads=1",
                    "-Dai.djl.pytorch.num_interop_threads=1",
                    "-cp",
                    System.getProperty("java.class.path"),
                    WorkerMain.class.getName());
            Map<String, String> env = pb.environment();
            env.put("KAFKA_BOOTSTRAP_SERVERS", fleet.infra.bootstrapServers());
            env.put("ANIMATEDIFF_S3_ENDPOINT", fleet.store.config().endpoint());
            env.put("ANIMATEDIFF_S3_ACCESS_KEY", S3ProxyServer.ACCESS_KEY);
            env.put("ANIMATEDIFF_S3_SECRET_KEY", S3ProxyServer.SECRET_KEY);
            env.put("ANIMATEDIFF_S3_BUCKET", FleetFixture.BUCKET);
            env.put(
                    "ANIMATEDIFF_CACHE_DIR",
                    Files.createDirectories(fleet.dir.resolve("proc-cache")).toString());
            env.put("ANIMATEDIFF_WORKER_ID", "proc");
            env.put("ANIMATEDIFF_WORKER_HEALTH_PORT", Integer.toString(port));
            env.put("ANIMATEDIFF_WORKER_PROGRESS_INTERVAL_MS", "0");
            pb.redirectErrorStream(true).redirectOutput(log.toFile());
            Process proc = pb.start();
            try {
                awaitReady(port, proc, log);

                GenerationJob quick = fleet.submit(FleetFixture.tinyRequest().build());
                JobEvent done = last(fleet.awaitTerminal(quick.jobId()));
                assertEquals(JobEventType.SUCCEEDED, done.type());
                assertEquals("proc", done.workerId());

                GenerationJob slow = fleet.submit(FleetFixture.tinyRequest()
                        .width(128)
                        .height(128)
                        .numFrames(8)
                        .numInferenceSteps(40)
                        .build());
                fleet.awaitEvent(slow.jobId(), JobEventType.PROGRESS, Duration.ofSeconds(60));
                proc.destroy(); // SIGTERM
                assertTrue(proc.waitFor(60, TimeUnit.SECONDS), "the worker did not exit after SIGTERM");
                String out = Files.readString(log);
                System.out.println("---- worker process output\n" + out + "----");
                assertTrue(out.contains("uncommitted for another worker"), out);
                assertTrue(out.contains("worker proc stopped"), out);
                assertTrue(
                        fleet.events(slow.jobId()).stream().noneMatch(JobEvent::isTerminal),
                        "a stopped worker publishes no terminal event for its unfinished job");

                fleet.startWorker("heir", b -> b.warmup(false));
                List<JobEvent> events = fleet.awaitTerminal(slow.jobId(), 1, Duration.ofSeconds(120));
                assertEquals(JobEventType.SUCCEEDED, last(events).type());
                assertEquals("heir", last(events).workerId());
                assertEquals(
                        List.of("proc", "heir"),
                        events.stream()
                                .filter(e -> e.type() == JobEventType.RUNNING)
                                .map(JobEvent::workerId)
                                .toList());
            } finally {
                proc.destroyForcibly();
            }
        }
    }

    private static void awaitReady(int port, Process proc, Path log) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (true) {
            if (!proc.isAlive()) {
                throw new AssertionError("worker process exited: " + Files.readString(log));
            }
            try {
                HttpResponse<String> r = http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ready"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException e) {
                // not listening yet
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("worker process not ready in 90 s: " + Files.readString(log));
            }
            Thread.sleep(200);
        }
    }

    private static JobEvent last(List<JobEvent> events) {
        return events.get(events.size() - 1);
    }
}
