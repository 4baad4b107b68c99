package io.animatediff.engine.bench;

import io.animatediff.engine.ops.OpObserver;
import io.animatediff.engine.ops.Ops;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Sums, per op kind, the analytic FLOPs, wall time and call count that {@link Ops} reports while
 * this counter is installed. Counted exactly from the shapes of the ops executed: conv2d
 * 2*N*Cout*Hout*Wout*Cin*k*k, linear 2*rows*Cin*Cout, attention 4*BN*Sq*Sk*D; norms, activations
 * and every elementwise op are not counted.
 */
public final class FlopCounter implements OpObserver, AutoCloseable {
    private final Map<Kind, LongAdder> flops = new EnumMap<>(Kind.class);
    private final Map<Kind, LongAdder> nanos = new EnumMap<>(Kind.class);
    private final Map<Kind, LongAdder> calls = new EnumMap<>(Kind.class);
    private final LongAdder backward = new LongAdder();

    private FlopCounter() {
        for (Kind k : Kind.values()) {
            flops.put(k, new LongAdder());
            nanos.put(k, new LongAdder());
            calls.put(k, new LongAdder());
        }
    }

    /** A fresh counter installed in {@link Ops}; close it to end the counting pass. */
    public static FlopCounter install() {
        FlopCounter c = new FlopCounter();
        Ops.setObserver(c);
        return c;
    }

    @Override
    public void record(Kind kind, long flops, long nanos) {
        this.flops.get(kind).add(flops);
        this.nanos.get(kind).add(nanos);
        this.calls.get(kind).increment();
    }

    @Override
    public void record(Kind kind, long flops, long nanos, long backwardFlops) {
        record(kind, flops, nanos);
        backward.add(backwardFlops);
    }

    /**
     * Analytic FLOPs autograd's backward pass spends on the ops counted (see {@link
     * OpObserver#record(Kind, long, long, long)}): what one training step's backward costs, counted
     * during its forward.
     */
    public long backwardFlops() {
        return backward.sum();
    }

    /** Total analytic FLOPs over every kind. */
    public long flops() {
        return flops.values().stream().mapToLong(LongAdder::sum).sum();
    }

    public long flops(Kind kind) {
        return flops.get(kind).sum();
    }

    /** Wall time spent inside ops of this kind, in seconds. */
    public double seconds(Kind kind) {
        return nanos.get(kind).sum() / 1e9;
    }

    public long calls(Kind kind) {
        return calls.get(kind).sum();
    }

    /** Uninstalls the counter (its sums stay readable). */
    @Override
    public void close() {
        Ops.setObserver(null);
    }
}
