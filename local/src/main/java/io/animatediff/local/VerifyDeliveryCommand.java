package io.animatediff.local;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code verify-delivery}: local mode with several worker processes, a stream of tiny jobs over
 * HTTP, faults injected on the real processes, and {@link DeliveryCheck}'s counts as the last line.
 */
@Command(
        name = "verify-delivery",
        mixinStandardHelpOptions = true,
        description = {
            "Check that no job is lost or duplicated under faults, in local mode.",
            "Starts Kafka, S3Proxy, the gateway and W workers, submits N tiny jobs over HTTP while injecting",
            "the faults (kill -9 of workers mid-job, a broker restart, S3Proxy down for S seconds), then",
            "checks that every job reached exactly one terminal state with its results stored exactly once.",
            "The last line: submitted=N succeeded=.. failed=.. lost=.. duplicated=.. (exit 0 only when all",
            "succeeded, none lost, none duplicated)."
        })
final class VerifyDeliveryCommand implements Callable<Integer> {
    @Mixin
    StartOptions start;

    @Option(names = "--jobs", defaultValue = "20", description = "Jobs to submit (default: ${DEFAULT-VALUE}).")
    int jobs;

    @Option(names = "--workers", defaultValue = "2", description = "Worker processes (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(
            names = "--kill-workers",
            defaultValue = "0",
            description = "Workers to kill -9 mid-job, each replaced by a new process (default: ${DEFAULT-VALUE}).")
    int killWorkers;

    @Option(names = "--restart-broker", description = "Restart the Kafka broker (same port and data) mid-run.")
    boolean restartBroker;

    @Option(
            names = "--storage-outage",
            defaultValue = "0",
            paramLabel = "SECONDS",
            description = "Stop S3Proxy for this many seconds while results are written (default: none).")
    int storageOutage;

    @Option(
            names = "--timeout",
            defaultValue = "1800",
            paramLabel = "SECONDS",
            description = "How long the jobs may take in all (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Override
    public Integer call() throws InterruptedException {
        if (jobs < 1 || workers < 1 || killWorkers < 0 || storageOutage < 0) {
            System.err.println("error: --jobs and --workers must be >= 1, --kill-workers and --storage-outage >= 0");
            return 2;
        }
        LocalSettings base = start.settings(true);
        DeliveryCheck.Counts counts = run(
                base,
                new Plan(jobs, workers, killWorkers, restartBroker, storageOutage),
                Duration.ofSeconds(timeoutSeconds));
        if (counts == null) {
            return 1;
        }
        System.out.println(counts.line());
        return counts.perfect() ? 0 : 3;
    }

    /** What to run and break. */
    record Plan(int jobs, int workers, int killWorkers, boolean restartBroker, int storageOutageSeconds) {}

    /** Starts local mode for {@code plan}, runs the check, stops everything; null when the fleet did not start. */
    static DeliveryCheck.Counts run(LocalSettings base, Plan plan, Duration timeout) throws InterruptedException {
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / plan.workers());
        LocalSettings settings = new LocalSettings(
                base.layout(),
                base.externalKafka(),
                base.externalStore(),
                true,
                base.startupTimeout(),
                base.gatewayPort(),
                base.apiKey(),
                threads);
        try (LocalMode mode =
                LocalMode.start(settings, System.out, Map.of("ANIMATEDIFF_WORKER_RETRY_BACKOFF_MS", "500"))) {
            FaultInjector faults = new FaultInjector(mode, System.out);
            for (int i = 2; i <= plan.workers(); i++) {
                mode.addWorker("local-worker-" + i);
                System.out.println("worker   local-worker-" + i + " ready");
            }
            List<DeliveryCheck.ScheduledFault> schedule = new ArrayList<>();
            // spread over the run: kills from 10 % to 60 %, the broker at 40 %, storage at 70 %
            for (int k = 0; k < plan.killWorkers(); k++) {
                double at = 0.1 + 0.5 * k / Math.max(1, plan.killWorkers());
                schedule.add(new DeliveryCheck.ScheduledFault("kill -9 worker #" + (k + 1), at, faults::killWorker));
            }
            if (plan.restartBroker()) {
                schedule.add(new DeliveryCheck.ScheduledFault("broker restart", 0.4, faults::restartBroker));
            }
            if (plan.storageOutageSeconds() > 0) {
                Duration outage = Duration.ofSeconds(plan.storageOutageSeconds());
                schedule.add(new DeliveryCheck.ScheduledFault(
                        "storage outage " + outage.toSeconds() + " s", 0.7, () -> faults.storageOutage(outage)));
            }
            schedule.sort((a, b) -> Double.compare(a.atFraction(), b.atFraction()));
            DeliveryCheck check = new DeliveryCheck(
                    mode.gatewayUrl(), mode.apiKey(), mode.kafkaBootstrap(), mode.store(), System.out);
            long t0 = System.nanoTime();
            DeliveryCheck.Counts counts = check.run(plan.jobs(), 2 * plan.workers() + 2, schedule, timeout);
            System.out.printf("elapsed  %.1f s%n", (System.nanoTime() - t0) / 1e9);
            return counts;
        } catch (ComponentException e) {
            System.err.println(e.report());
            return null;
        }
    }
}
