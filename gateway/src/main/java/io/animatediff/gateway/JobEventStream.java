package io.animatediff.gateway;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.MultiEmitter;

/**
 * One job's states as a stream: the current state first, then one item per change, completed after
 * a terminal state. Subscribes before reading the current state and drops versions already sent,
 * so no change is lost or repeated.
 */
public final class JobEventStream {
    private JobEventStream() {}

    public static Multi<JobState> of(JobStateView view, String jobId) {
        return Multi.createFrom().emitter(emitter -> {
            Forwarder f = new Forwarder(emitter);
            AutoCloseable subscription = view.subscribe(jobId, f::offer);
            emitter.onTermination(() -> {
                try {
                    subscription.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            view.get(jobId).ifPresent(f::offer);
        });
    }

    /** Forwards newer versions only; completes after a terminal one. */
    private static final class Forwarder {
        private final MultiEmitter<? super JobState> emitter;
        private long lastVersion;
        private boolean done;

        Forwarder(MultiEmitter<? super JobState> emitter) {
            this.emitter = emitter;
        }

        synchronized void offer(JobState s) {
            if (done || s.version() <= lastVersion) {
                return;
            }
            lastVersion = s.version();
            emitter.emit(s);
            if (s.status().isTerminal()) {
                done = true;
                emitter.complete();
            }
        }
    }
}
