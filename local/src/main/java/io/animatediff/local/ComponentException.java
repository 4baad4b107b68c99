package io.animatediff.local;

import java.nio.file.Path;

/**
 * A component of the local fleet (broker, S3Proxy, gateway, worker, the demo job) failed: names
 * which one, what happened and, through {@link #report()}, the tail of its log.
 */
public final class ComponentException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Lines of the component's log shown in {@link #report()}. */
    public static final int TAIL_LINES = 40;

    private final String component;
    private final transient Path log;

    public ComponentException(String component, String message, Path log) {
        super(component + " " + message);
        this.component = component;
        this.log = log;
    }

    public ComponentException(String component, String message, Path log, Throwable cause) {
        super(component + " " + message, cause);
        this.component = component;
        this.log = log;
    }

    /** The component that failed: {@code kafka}, {@code s3proxy}, {@code gateway}, {@code worker}, ... */
    public String component() {
        return component;
    }

    /** Its log file, or null when it has none. */
    public Path log() {
        return log;
    }

    /** The message, where the log is, and the log's last lines. */
    public String report() {
        StringBuilder sb = new StringBuilder("error: ").append(getMessage());
        if (log != null) {
            sb.append(System.lineSeparator())
                    .append("--- last lines of ")
                    .append(log)
                    .append(" ---")
                    .append(System.lineSeparator())
                    .append(ChildProcess.tail(log, TAIL_LINES))
                    .append(System.lineSeparator())
                    .append("---");
        }
        return sb.toString();
    }
}
