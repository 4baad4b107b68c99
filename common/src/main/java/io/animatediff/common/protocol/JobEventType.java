package io.animatediff.common.protocol;

/** The kind of a {@link JobEvent}; a job's state is the type of its latest event. */
public enum JobEventType {
    /** Accepted by the gateway and published to the job topic. */
    QUEUED,
    /** A worker took the job (may carry step 0 of total). */
    RUNNING,
    /** A denoising (or training) step finished: carries step and total. */
    PROGRESS,
    /** Finished; carries the result objects. Terminal. */
    SUCCEEDED,
    /** Gave up; carries a machine code and a reason a user can act on. Terminal. */
    FAILED,
    /** Stopped at the user's request. Terminal. */
    CANCELLED;

    /** Whether no further event follows for the job. */
    public boolean isTerminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
