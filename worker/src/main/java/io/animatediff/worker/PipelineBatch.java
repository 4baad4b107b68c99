package io.animatediff.worker;

import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.AnimationResult;
import io.animatediff.engine.pipeline.BatchedGeneration;
import io.animatediff.engine.pipeline.CancelledException;
import io.animatediff.engine.pipeline.MemoryPlan;
import io.animatediff.engine.pipeline.StepListener;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The meeting point of the jobs the consumer took together (each on its own job thread, each with
 * its own events, results, cancel and failure handling): every job that reaches its pipeline step
 * {@linkplain #run arrives} with its parameters, every job that ends before it (refused, cancelled
 * while queued, failed) {@linkplain #leave leaves}. When all have arrived or left, one runner thread
 * runs the arrivals: compatible ones (the same loaded model instance, {@link
 * BatchedGeneration#problems} empty) as one {@link BatchedGeneration}, the others alone; each job
 * gets its own result, cancel or error. A batch predicted above the worker's memory budget is split
 * in halves until it fits.
 */
final class PipelineBatch {
    private static final Logger LOG = LoggerFactory.getLogger(PipelineBatch.class);

    /** One job that reached its pipeline step. */
    private record Arrival(
            JobControl control,
            AnimationParams params,
            StepListener listener,
            AnimateDiffModel model,
            CompletableFuture<AnimationResult> result) {}

    private final int size;
    private final String name;
    private final Map<JobControl, Arrival> arrived = new IdentityHashMap<>();
    private final Map<JobControl, Boolean> left = new IdentityHashMap<>();
    private boolean launched;
    private long memoryBudgetBytes;
    private WorkerMetrics metrics;

    /** A meeting point for {@code size} jobs; {@code name} names the runner thread. */
    PipelineBatch(int size, String name) {
        if (size < 2) {
            throw new IllegalArgumentException("a batch has 2 or more jobs, got " + size);
        }
        this.size = size;
        this.name = name;
    }

    int size() {
        return size;
    }

    /**
     * Runs {@code params} with the batch: blocks until every job of the batch arrived or left, then
     * until this job's result (or cancel) is known. A job arriving after the batch was launched, or
     * after it left, runs alone.
     */
    AnimationResult run(
            JobControl control,
            AnimationParams params,
            StepListener listener,
            AnimateDiffModel model,
            long memoryBudgetBytes,
            WorkerMetrics metrics) {
        Arrival me = new Arrival(control, params, listener, model, new CompletableFuture<>());
        List<Arrival> launch = null;
        synchronized (this) {
            if (launched || left.containsKey(control) || arrived.containsKey(control)) {
                me = null;
            } else {
                this.memoryBudgetBytes = memoryBudgetBytes;
                this.metrics = metrics;
                arrived.put(control, me);
                launch = launchIfComplete();
            }
        }
        if (me == null) {
            return new AnimationPipeline(model).run(params, listener, true);
        }
        start(launch);
        try {
            return me.result().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            control.abort("interrupted while waiting for its batch");
            throw new JobControl.Aborted("interrupted while waiting for its batch");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(cause);
        }
    }

    /** This job will not arrive (it ended before its pipeline step); idempotent. */
    void leave(JobControl control) {
        List<Arrival> launch;
        synchronized (this) {
            if (launched || arrived.containsKey(control) || left.containsKey(control)) {
                return;
            }
            left.put(control, Boolean.TRUE);
            launch = launchIfComplete();
        }
        start(launch);
    }

    /** The arrivals to run once every job arrived or left (null until then, and after). */
    private List<Arrival> launchIfComplete() {
        if (launched || arrived.size() + left.size() < size) {
            return null;
        }
        launched = true;
        return new ArrayList<>(arrived.values());
    }

    private void start(List<Arrival> launch) {
        if (launch == null || launch.isEmpty()) {
            return;
        }
        Thread t = new Thread(() -> runAll(launch), name);
        t.setDaemon(true);
        t.start();
    }

    /** Groups the arrivals (arrival order kept) and runs each group; every future is completed. */
    private void runAll(List<Arrival> arrivals) {
        List<Arrival> rest = new ArrayList<>(arrivals);
        while (!rest.isEmpty()) {
            Arrival first = rest.remove(0);
            List<Arrival> group = new ArrayList<>(List.of(first));
            if (BatchedGeneration.unsupported(first.params()).isEmpty()) {
                for (int i = 0; i < rest.size(); ) {
                    Arrival a = rest.get(i);
                    if (a.model() == first.model()
                            && BatchedGeneration.problems(first.params(), a.params())
                                    .isEmpty()) {
                        group.add(rest.remove(i));
                    } else {
                        i++;
                    }
                }
            }
            runGroup(group);
        }
    }

    private void runGroup(List<Arrival> group) {
        List<Arrival> valid = new ArrayList<>();
        for (Arrival a : group) {
            try {
                new AnimationPipeline(a.model()).checkInputs(a.params());
                valid.add(a);
            } catch (RuntimeException e) { // this job's own invalid parameters fail this job only
                a.result().completeExceptionally(e);
            }
        }
        for (List<Arrival> part : fitting(valid)) {
            if (part.size() == 1) {
                alone(part.get(0));
            } else {
                batched(part);
            }
        }
    }

    /** The group in parts of equal size whose batch is predicted within the memory budget. */
    private List<List<Arrival>> fitting(List<Arrival> group) {
        int parts = 1;
        while (parts < group.size() && !fits(group, (group.size() + parts - 1) / parts)) {
            parts++;
        }
        int per = (group.size() + parts - 1) / parts;
        List<List<Arrival>> out = new ArrayList<>();
        for (int i = 0; i < group.size(); i += per) {
            out.add(group.subList(i, Math.min(group.size(), i + per)));
        }
        return out;
    }

    /**
     * A batch of {@code k} jobs of F frames predicted as one job of k F frames (an upper bound: the
     * UNet's activations grow with k F, its temporal attention scores with F^2 per job instead of
     * (k F)^2; decoding is per job).
     */
    private boolean fits(List<Arrival> group, int k) {
        if (memoryBudgetBytes <= 0 || k <= 1 || group.isEmpty()) {
            return true;
        }
        AnimationParams p = group.get(0).params();
        MemoryPlan.Estimate e = MemoryPlan.predict(MemoryPlan.Job.of(
                group.get(0).model(),
                p.width(),
                p.height(),
                k * p.frames(),
                0,
                p.classifierFreeGuidance(),
                p.decodeChunk()));
        return e.peakBytes() <= memoryBudgetBytes;
    }

    private static void alone(Arrival a) {
        try {
            a.result().complete(new AnimationPipeline(a.model()).run(a.params(), a.listener(), true));
        } catch (RuntimeException | Error e) {
            a.result().completeExceptionally(e);
        }
    }

    private void batched(List<Arrival> part) {
        List<AnimationParams> params = part.stream().map(Arrival::params).toList();
        List<StepListener> listeners = part.stream().map(Arrival::listener).toList();
        part.forEach(a -> a.control().mark("batched x" + part.size()));
        if (metrics != null) {
            metrics.batch(part.size());
        }
        LOG.info("running {} compatible jobs as one batch", part.size());
        try {
            new BatchedGeneration(part.get(0).model()).run(params, listeners, true, (k, outcome) -> {
                CancelledException c = outcome.cancelled();
                if (c != null) {
                    part.get(k).result().completeExceptionally(c);
                } else {
                    part.get(k).result().complete(outcome.result());
                }
            });
        } catch (RuntimeException | Error e) {
            LOG.warn("a batch of {} jobs failed: {}", part.size(), e.toString());
            part.forEach(a -> a.result().completeExceptionally(e));
        }
    }
}
