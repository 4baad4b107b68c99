package io.animatediff.common.trace;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The headers that travel with a job from the gateway through every Kafka record written for it
 * (the job, its events, re-queues, dead letters): {@value TraceParent#HEADER} and the webhook
 * callback {@value #CALLBACK}. Bound to the thread handling the job ({@link #open}); producers add
 * {@link #current()} to each record they send, consumers {@link #open} what a record carried.
 */
public final class JobContext {
    /** Kafka header: the callback URL a job's events are POSTed to (already allow-listed by the gateway). */
    public static final String CALLBACK = "animatediff.callback";

    private static final ThreadLocal<Map<String, String>> CURRENT = ThreadLocal.withInitial(Map::of);

    private JobContext() {}

    /** The headers bound to this thread (empty when none). */
    public static Map<String, String> current() {
        return CURRENT.get();
    }

    /** The trace of this thread's job, if any. */
    public static String traceparent() {
        return CURRENT.get().get(TraceParent.HEADER);
    }

    /**
     * Binds headers to this thread until the returned scope closes (then the previous ones are back).
     * Only {@value TraceParent#HEADER} and {@value #CALLBACK} are kept; a traceparent is continued with
     * a new span ({@link TraceParent#continueOrStart}).
     */
    public static Scope open(Map<String, String> headers) {
        Map<String, String> previous = CURRENT.get();
        Map<String, String> next = new LinkedHashMap<>();
        next.put(
                TraceParent.HEADER,
                TraceParent.continueOrStart(headers.get(TraceParent.HEADER)).header());
        String callback = headers.get(CALLBACK);
        if (callback != null && !callback.isBlank()) {
            next.put(CALLBACK, callback);
        }
        CURRENT.set(Map.copyOf(next));
        return () -> CURRENT.set(previous);
    }

    /** A bound context; closing restores the previous one. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }
}
