package io.animatediff.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./animatediff demo} without the script: the broker, S3Proxy, the gateway and a worker as
 * child processes, the sample job over HTTP, its GIF downloaded by presigned URL with the requested
 * frame count, and nothing left running afterwards. Needs the packaged gateway and worker: skipped
 * (with the reason) until they are built.
 */
class FleetDemoTest {
    @TempDir
    Path state;

    @TempDir
    Path out;

    @Test
    void sampleJobOverHttpReachesTheGif() throws Exception {
        LocalLayout layout = TestLayouts.settings(state, true).layout();
        for (Path needed : List.of(layout.gatewayJar(), layout.workerClasses(), layout.workerLib())) {
            assumeTrue(
                    Files.exists(needed),
                    "skipped: " + needed + " is missing (package the gateway and worker first: ./mvnw -B -q -DskipTests"
                            + " package)");
        }
        try (LocalMode mode = LocalMode.start(TestLayouts.settings(state, true), System.out)) {
            assertEquals(
                    Files.isDirectory(layout.trainerLib()) ? 5 : 4,
                    mode.processes().size(),
                    "kafka, s3proxy, gateway, worker and (when built) trainer processes");
            FleetDemo.Result result = new FleetDemo(
                            mode.gatewayUrl(),
                            mode.apiKey(),
                            mode.log(LocalMode.GATEWAY),
                            mode.log(LocalMode.WORKER),
                            System.out)
                    .run(out);
            assertEquals(FleetDemo.FRAMES, result.gifFrames());
            assertEquals(FleetDemo.FRAMES, FleetDemo.gifFrames(result.gif()));
            assertTrue(result.files().stream().anyMatch(f -> f.toString().endsWith(".mp4")), "files " + result.files());
        } catch (ComponentException e) {
            throw new AssertionError(e.report(), e);
        }
        List<ProcessHandle> alive = TestLayouts.aliveDescendants(Duration.ofSeconds(5));
        assertTrue(alive.isEmpty(), "child processes left: " + TestLayouts.describe(alive));
    }
}
