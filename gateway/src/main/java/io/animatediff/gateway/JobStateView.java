package io.animatediff.gateway;

import io.animatediff.common.protocol.JobEvent;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Every job's latest state, folded from {@code animatediff.job-events} ({@link JobState#apply}).
 * Thread-safe: the state-view consumer applies events, request threads read and subscribe. Also
 * indexes jobs created with an {@code Idempotency-Key} by their key scope ({@link IdempotencyKeys}),
 * so any replica that folded the topic can answer a retry, and counts each API key's jobs that
 * are not terminal yet ({@link #activeJobs}, for the queue quota).
 */
public final class JobStateView {
    private static final Logger LOG = Logger.getLogger(JobStateView.class.getName());

    /** Newest first, then by id (a stable order for paging). */
    static final Comparator<JobState> NEWEST_FIRST =
            Comparator.comparing(JobState::createdAt).reversed().thenComparing(JobState::jobId);

    private final ConcurrentHashMap<String, JobState> states = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, String> byIdempotencyScope = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, List<String>> warnings = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> activeByOwner = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, CopyOnWriteArrayList<Consumer<JobState>>> listeners =
            new ConcurrentHashMap<>();

    /** One page of a listing. */
    public record Page(List<JobState> items, int page, int size, long total) {}

    /**
     * Folds one event in; listeners of the job hear the new state when it changed.
     *
     * @return the job's state after the event
     */
    public JobState apply(JobEvent event) {
        JobState[] before = new JobState[1];
        JobState after = states.compute(event.jobId(), (id, old) -> {
            before[0] = old;
            JobState next = old == null ? JobState.first(event) : old.apply(event);
            // under the job's lock, so every transition is counted exactly once
            boolean wasActive = old != null && !old.status().isTerminal();
            boolean isActive = !next.status().isTerminal();
            if (wasActive != isActive) {
                JobOwners.tagOf(id)
                        .ifPresent(tag -> activeByOwner
                                .computeIfAbsent(tag, t -> new AtomicInteger())
                                .addAndGet(isActive ? 1 : -1));
            }
            return next;
        });
        if (before[0] == null) {
            IdempotencyKeys.scopeOf(event.jobId()).ifPresent(scope -> byIdempotencyScope.put(scope, event.jobId()));
        }
        if (after != before[0]) {
            notifyListeners(after);
        }
        return after;
    }

    public Optional<JobState> get(String jobId) {
        return Optional.ofNullable(states.get(jobId));
    }

    /** The job created under an idempotency scope ({@link IdempotencyKeys#scope}), if any. */
    public Optional<JobState> findByIdempotencyScope(String scope) {
        String id = byIdempotencyScope.get(scope);
        return id == null ? Optional.empty() : get(id);
    }

    /** Jobs in {@link #NEWEST_FIRST} order, optionally of one status; {@code page} counts from 0. */
    public Page list(Optional<JobStatus> status, int page, int size) {
        return list(status, page, size, s -> true);
    }

    /** {@link #list(Optional, int, int)} of the jobs {@code visible} accepts only. */
    public Page list(Optional<JobStatus> status, int page, int size, java.util.function.Predicate<JobState> visible) {
        List<JobState> all = new ArrayList<>();
        for (JobState s : states.values()) {
            if ((status.isEmpty() || s.status() == status.get()) && visible.test(s)) {
                all.add(s);
            }
        }
        all.sort(NEWEST_FIRST);
        long from = (long) page * size;
        List<JobState> items = from >= all.size()
                ? List.of()
                : List.copyOf(all.subList((int) from, (int) Math.min(all.size(), from + size)));
        return new Page(items, page, size, all.size());
    }

    /**
     * Records validator warnings of a job submitted through this replica (they are not on the
     * topic: another replica shows none).
     */
    public void putWarnings(String jobId, List<String> messages) {
        warnings.put(jobId, List.copyOf(messages));
    }

    /** Warnings recorded by {@link #putWarnings}, empty when none. */
    public List<String> warnings(String jobId) {
        return warnings.getOrDefault(jobId, List.of());
    }

    /**
     * Jobs of the API key with owner tag {@code ownerTag} ({@link JobOwners#tag}) that are QUEUED or
     * RUNNING in this view.
     */
    public int activeJobs(String ownerTag) {
        AtomicInteger n = activeByOwner.get(ownerTag);
        return n == null ? 0 : n.get();
    }

    public int size() {
        return states.size();
    }

    /**
     * Calls {@code listener} with each new state of the job (from the thread that applies events)
     * until the returned handle is closed. Subscribe first, then read {@link #get}, and drop states
     * whose {@link JobState#version()} was already seen.
     */
    public AutoCloseable subscribe(String jobId, Consumer<JobState> listener) {
        listeners.computeIfAbsent(jobId, k -> new CopyOnWriteArrayList<>()).add(listener);
        return () -> listeners.computeIfPresent(jobId, (k, list) -> {
            list.remove(listener);
            return list.isEmpty() ? null : list;
        });
    }

    private void notifyListeners(JobState state) {
        List<Consumer<JobState>> list = listeners.get(state.jobId());
        if (list == null) {
            return;
        }
        for (Consumer<JobState> l : list) {
            try {
                l.accept(state);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "listener of job " + state.jobId() + " failed", e);
            }
        }
    }
}
