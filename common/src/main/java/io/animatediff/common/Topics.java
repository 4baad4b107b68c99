package io.animatediff.common;

/** Kafka topic and consumer-group names: defined once, used by every service. */
public final class Topics {
    /** Generation jobs, keyed by job id. */
    public static final String GENERATE = "animatediff.generate";
    /** Training jobs, keyed by job id. */
    public static final String TRAIN = "animatediff.train";
    /** Job events, keyed by job id; compacted so the latest state of every job survives. */
    public static final String JOB_EVENTS = "animatediff.job-events";
    /** Generation jobs that failed every attempt, with their reason. */
    public static final String GENERATE_DLQ = "animatediff.generate.dlq";
    /** Cancel requests, keyed by job id; read by every worker (no consumer group). */
    public static final String CANCEL = "animatediff.cancel";
    /** Consumer group of the generation workers. */
    public static final String WORKERS_GROUP = "workers";

    private Topics() {}
}
