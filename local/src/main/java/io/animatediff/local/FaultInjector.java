package io.animatediff.local;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Faults injected into a running {@link LocalMode}, each on the real processes: {@code kill -9} of
 * a worker (replaced by a fresh worker process), a broker restart on the same port and data
 * folder, and S3Proxy stopped for a while and started again on the same port and folder.
 */
public final class FaultInjector {
    private final LocalMode mode;
    private final PrintStream out;
    private final AtomicInteger nextWorker = new AtomicInteger(100);

    public FaultInjector(LocalMode mode, PrintStream out) {
        this.mode = mode;
        this.out = out;
    }

    /** Live worker processes. */
    public List<ChildProcess> workers() {
        return mode.processes().stream()
                .filter(p -> p.name().startsWith(LocalMode.WORKER) && p.isAlive())
                .toList();
    }

    /**
     * SIGKILLs one live worker (the oldest: it has been taking jobs longest) and starts a
     * replacement; returns once the replacement is ready.
     */
    public void killWorker() throws ComponentException {
        List<ChildProcess> live = workers();
        if (live.isEmpty()) {
            throw new ComponentException(LocalMode.WORKER, "has no live process to kill", null);
        }
        ChildProcess victim = live.get(0);
        mode.forget(victim);
        victim.handle().destroyForcibly(); // SIGKILL: no shutdown hook, no commit, no goodbye to the group
        out.println("fault    kill -9 " + victim);
        String id = "local-worker-" + nextWorker.getAndIncrement();
        ChildProcess replacement = mode.addWorker(id);
        out.println("fault    replacement worker ready: " + replacement);
    }

    /** Stops the broker (SIGTERM, then SIGKILL after the grace) and starts it on the same port and data. */
    public void restartBroker() throws ComponentException {
        ChildProcess kafka = mode.process(KafkaProcess.COMPONENT)
                .orElseThrow(
                        () -> new ComponentException(KafkaProcess.COMPONENT, "is external: cannot restart it", null));
        mode.forget(kafka);
        long t0 = System.nanoTime();
        kafka.stop(Duration.ofSeconds(20));
        out.println("fault    broker stopped: " + kafka);
        KafkaProcess.Started again = KafkaProcess.restart(
                mode.settings().layout(),
                mode.kafkaBootstrap(),
                mode.settings().startupTimeout(),
                mode::adoptInfrastructure);
        out.printf(
                "fault    broker restarted on %s after %.1f s: %s%n",
                again.bootstrap(), (System.nanoTime() - t0) / 1e9, again.process());
    }

    /** Kills S3Proxy, keeps it down for {@code outage}, then starts it on the same port and folder. */
    public void storageOutage(Duration outage) throws ComponentException, InterruptedException {
        ChildProcess s3 = mode.process(S3ProxyProcess.COMPONENT)
                .orElseThrow(
                        () -> new ComponentException(S3ProxyProcess.COMPONENT, "is external: cannot stop it", null));
        mode.forget(s3);
        long t0 = System.nanoTime();
        s3.handle().destroyForcibly();
        s3.handle().onExit().join();
        out.println("fault    storage down (S3Proxy killed) for " + outage.toSeconds() + " s");
        Thread.sleep(outage.toMillis());
        S3ProxyProcess.Started again = S3ProxyProcess.restart(
                mode.settings().layout(), mode.store(), mode.settings().startupTimeout(), mode::adoptInfrastructure);
        out.printf("fault    storage back after %.1f s: %s%n", (System.nanoTime() - t0) / 1e9, again.process());
    }
}
