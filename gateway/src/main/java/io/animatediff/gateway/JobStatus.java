package io.animatediff.gateway;

import io.animatediff.common.protocol.JobEventType;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** A job's state as the HTTP API shows it: the type of its latest event, PROGRESS shown as RUNNING. */
public enum JobStatus {
    QUEUED,
    RUNNING,
    SUCCEEDED,
    FAILED,
    CANCELLED;

    public static JobStatus of(JobEventType type) {
        return switch (type) {
            case QUEUED -> QUEUED;
            case RUNNING, PROGRESS -> RUNNING;
            case SUCCEEDED -> SUCCEEDED;
            case FAILED -> FAILED;
            case CANCELLED -> CANCELLED;
        };
    }

    /** Whether the job is over. */
    public boolean isTerminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }

    /** Looks a status up by name, ignoring case ({@code ?status=running}). */
    public static Optional<JobStatus> find(String name) {
        return Arrays.stream(values())
                .filter(s -> s.name().equalsIgnoreCase(name))
                .findFirst();
    }

    public static List<String> names() {
        return Arrays.stream(values()).map(Enum::name).toList();
    }

    /** QUEUED 0, RUNNING 1, terminal 2: within one attempt a job never moves backwards. */
    int rank() {
        return switch (this) {
            case QUEUED -> 0;
            case RUNNING -> 1;
            case SUCCEEDED, FAILED, CANCELLED -> 2;
        };
    }
}
