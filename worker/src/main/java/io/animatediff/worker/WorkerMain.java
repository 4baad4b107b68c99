package io.animatediff.worker;

import java.util.concurrent.CountDownLatch;

/**
 * The worker process: {@code java -cp 'worker/target/classes:worker/target/lib/*'
 * io.animatediff.worker.WorkerMain}. Configured by environment (see {@link WorkerConfig}); SIGTERM
 * stops polling, leaves an unfinished job uncommitted for another worker, and exits.
 */
public final class WorkerMain {
    private WorkerMain() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println(usage());
            return;
        }
        quietLibraries();
        Worker worker;
        try {
            worker = Worker.start(WorkerConfig.fromEnvironment());
        } catch (RuntimeException e) {
            System.err.println("worker failed to start: " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            worker.close();
                            stopped.countDown();
                        },
                        "worker-shutdown"));
        stopped.await();
    }

    /**
     * Defaults unless the operator set them: DJL offline (libtorch comes from the native jar on the
     * classpath or {@code PYTORCH_LIBRARY_PATH}, never the network); slf4j-simple at INFO for us and
     * WARN for the Kafka client.
     */
    private static void quietLibraries() {
        if (System.getenv("DJL_OFFLINE") == null) {
            setIfAbsent("ai.djl.offline", "true");
        }
        setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "info");
        setIfAbsent("org.slf4j.simpleLogger.log.org.apache.kafka", "warn");
        setIfAbsent("org.slf4j.simpleLogger.showDateTime", "true");
        setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    static String usage() {
        return String.join(
                "\n",
                "animatediff worker: consumes animatediff.generate and writes results to S3.",
                "Environment (or -D system properties such as -Danimatediff.worker.max-attempts=5):",
                "  " + WorkerConfig.ENV_BOOTSTRAP + "            Kafka bootstrap servers (localhost:9092)",
                "  ANIMATEDIFF_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY / _BUCKET   object store",
                "  " + WorkerConfig.ENV_CACHE_DIR + "              model disk cache (~/.cache/animatediff)",
                "  " + WorkerConfig.ENV_WORKER_ID + "              worker id in events (host-pid)",
                "  " + WorkerConfig.ENV_HEALTH_PORT + "      /live /ready /metrics port (8081; 0 any, -1 off)",
                "  " + WorkerConfig.ENV_MAX_ATTEMPTS + "     attempts before the DLQ (3)",
                "  " + WorkerConfig.ENV_MODEL_CACHE_BYTES + " loaded-model cache size (8g)",
                "  " + WorkerConfig.ENV_MAX_POLL_INTERVAL_MS + " Kafka max.poll.interval.ms (300000)",
                "  " + WorkerConfig.ENV_PROGRESS_INTERVAL_MS + " shortest gap between PROGRESS events (250)",
                "  " + WorkerConfig.ENV_RETRY_BACKOFF_MS + "  wait before a retry, doubled per attempt (1000)",
                "  " + WorkerConfig.ENV_PARTITIONS + " / " + WorkerConfig.ENV_REPLICATION
                        + "  settings of topics this worker creates (6 / 1)",
                "  " + WorkerConfig.ENV_WARMUP + "          tiny forward before ready (true)",
                "  " + WorkerConfig.ENV_MEMORY_BUDGET_BYTES + " refuse jobs predicted above it (0: no limit)",
                "  " + WorkerConfig.ENV_BATCH_MAX + "           most compatible jobs run as one batch (1: off)");
    }
}
