package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.weights.TensorSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Ports torch.optim.AdamW (single-tensor path, amsgrad off): for step t and gradient g of each
 * parameter p, decoupled weight decay p -= lr * wd * p, then m = lerp(m, g, 1 - beta1), v = beta2 v +
 * (1 - beta2) g^2, and p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
 *
 * <p>Parameters and the moments m, v (exp_avg, exp_avg_sq) are updated in place. The moments of
 * all parameters live in one flat buffer each, so the moment arithmetic of a step is a dozen
 * native ops whatever the number of tensors (per element the same float32 operations in the same
 * order as the single-tensor path, so the results are bit-identical to it); each parameter gets
 * one fused weight decay and one subtraction. The update runs over segments of consecutive
 * parameters of at most {@link #SEGMENT_ELEMENTS} elements (a larger parameter is a segment of its
 * own), so its five temporaries of the segment's size stay bounded whatever the model: the 453 M
 * parameters of a v2 motion module would otherwise need 9 GB of them (the tiny modules are one
 * segment). The buffers stay the same arrays for the whole run
 * (a checkpoint's moments replace the initial zeros once, closing them), {@link #state()} hands
 * out views of them, and every temporary of an update lives in the caller's scratch manager. Call
 * {@link #step} with autograd off (torch runs it under no_grad).
 */
public final class AdamW {
    /** Key prefixes of the moments in a saved optimizer state. */
    public static final String EXP_AVG = "exp_avg.";

    public static final String EXP_AVG_SQ = "exp_avg_sq.";

    /** Elements per update segment: 128 MiB per float32 temporary. */
    public static final long SEGMENT_ELEMENTS = 1L << 25;

    private final Map<String, Param> params;
    private final NDManager stateManager;
    private final long[] sizes; // elements of each parameter, in params order
    private final int[] segments; // first parameter of each update segment, then params.size()
    private NDList expAvgSegments; // views of expAvgFlat, one per segment: (segment total)
    private NDList expAvgSqSegments;
    private NDArray expAvgFlat; // (total)
    private NDArray expAvgSqFlat; // (total)
    private Map<String, NDArray> expAvg; // views of expAvgFlat shaped like each parameter
    private Map<String, NDArray> expAvgSq;
    private double lr;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private long step;

    /** Moments start at zero on {@code stateManager} (torch creates them lazily at the first step). */
    public AdamW(
            Map<String, Param> params,
            NDManager stateManager,
            double lr,
            double beta1,
            double beta2,
            double eps,
            double weightDecay) {
        this(params, stateManager, lr, beta1, beta2, eps, weightDecay, SEGMENT_ELEMENTS);
    }

    /** As the public constructor, with update segments of at most {@code segmentElements} elements. */
    AdamW(
            Map<String, Param> params,
            NDManager stateManager,
            double lr,
            double beta1,
            double beta2,
            double eps,
            double weightDecay,
            long segmentElements) {
        this.params = new LinkedHashMap<>(params);
        this.stateManager = stateManager;
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        if (this.params.isEmpty()) {
            throw new IllegalArgumentException("AdamW needs at least one parameter to optimise; none was given");
        }
        this.sizes =
                this.params.values().stream().mapToLong(p -> p.shape().size()).toArray();
        long total = Arrays.stream(sizes).sum();
        this.segments = segments(sizes, segmentElements);
        setMoments(stateManager.zeros(new Shape(total)), stateManager.zeros(new Shape(total)));
    }

    /**
     * One update. {@code grads} holds each parameter's gradient by key (every key of the optimizer);
     * temporaries go to {@code scratch}.
     */
    public void step(Map<String, NDArray> grads, NDManager scratch) {
        step(grads, 1.0f, scratch);
    }

    /**
     * One update with every gradient multiplied by {@code gradScale} first (the clipping coefficient
     * of {@link ClipGradNorm#coefficient}; 1 leaves them as they are): the same numbers as scaling
     * the gradients in place and then calling {@link #step(Map, NDManager)}, without touching them.
     */
    public void step(Map<String, NDArray> grads, float gradScale, NDManager scratch) {
        step++;
        double bias1 = 1 - Math.pow(beta1, step);
        double bias2 = 1 - Math.pow(beta2, step);
        double stepSize = lr / bias1;
        double bias2Sqrt = Math.sqrt(bias2);
        NDArray decay = scoped(scratch.create(1 - lr * weightDecay), scratch); // as NDArray.muli(Number)
        List<String> keys = new ArrayList<>(params.keySet());
        for (int s = 0; s + 1 < segments.length; s++) {
            try (NDManager part = scratch.newSubManager()) {
                update(
                        keys.subList(segments[s], segments[s + 1]),
                        grads,
                        gradScale,
                        expAvgSegments.get(s),
                        expAvgSqSegments.get(s),
                        stepSize,
                        bias2Sqrt,
                        decay,
                        part);
            }
        }
    }

    /** The update of one segment: its parameters {@code keys}, their moments' views {@code m} and {@code v}. */
    private void update(
            List<String> keys,
            Map<String, NDArray> grads,
            float gradScale,
            NDArray m,
            NDArray v,
            double stepSize,
            double bias2Sqrt,
            NDArray decay,
            NDManager scratch) {
        // g (segment total): the segment's gradients flattened, in parameter order
        NDList flat = new NDList(keys.size());
        for (String key : keys) {
            NDArray g = grads.get(key);
            if (g == null) {
                throw new IllegalArgumentException("AdamW: no gradient for '" + key + "'");
            }
            flat.add(scoped(g.reshape(-1), scratch));
        }
        NDArray g = scoped(flat.size() == 1 ? flat.get(0).duplicate() : NDArrays.concat(flat), scratch);
        if (gradScale != 1f) {
            g.muli(gradScale);
        }
        // 2. moments: m.lerp_(g, 1 - beta1) = m + (1 - beta1) (g - m); v = beta2 v + (1 - beta2) g g
        NDArray d = scoped(g.sub(m), scratch).muli(1 - beta1);
        m.addi(d);
        NDArray g2 = scoped(g.mul(g), scratch).muli(1 - beta2);
        v.muli(beta2).addi(g2);
        // 3. p.addcdiv_(m, sqrt(v) / sqrt(bias2) + eps, value = -lr / bias1)
        NDArray denom = scoped(v.sqrt(), scratch).divi(bias2Sqrt).addi(eps);
        NDArray update = scoped(m.div(denom), scratch).muli(stepSize);
        NDList parts = keys.size() == 1 ? new NDList(update.reshape(-1)) : update.split(offsets(keys));
        // 1. decoupled weight decay (first, as torch; it reads only p), then p -= update
        int i = 0;
        for (String key : keys) {
            NDArray p = params.get(key).get();
            NDArray u = scoped(parts.get(i++), scratch);
            p.muli(decay);
            p.subi(scoped(u.reshape(p.getShape()), scratch));
        }
    }

    /** Where each of {@code keys}' slices of their segment starts, after the first. */
    private long[] offsets(List<String> keys) {
        long[] at = new long[keys.size() - 1];
        long sum = 0;
        for (int i = 0; i < at.length; i++) {
            sum += params.get(keys.get(i)).shape().size();
            at[i] = sum;
        }
        return at;
    }

    /** Cuts parameters of {@code sizes} into runs of at most {@code max} elements (a larger one alone). */
    static int[] segments(long[] sizes, long max) {
        List<Integer> starts = new ArrayList<>();
        long in = 0;
        for (int i = 0; i < sizes.length; i++) {
            if (i == 0 || in + sizes[i] > max) {
                starts.add(i);
                in = 0;
            }
            in += sizes[i];
        }
        starts.add(sizes.length);
        return starts.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A flat buffer (total) cut into one new view per parameter (each (size)). */
    private NDList slices(NDArray flat) {
        return sizes.length == 1 ? new NDList(flat.reshape(-1)) : flat.split(offsets());
    }

    /** Where each parameter's slice of a flat buffer starts, after the first. */
    private long[] offsets() {
        long[] at = new long[sizes.length - 1];
        long sum = 0;
        for (int i = 0; i < at.length; i++) {
            sum += sizes[i];
            at[i] = sum;
        }
        return at;
    }

    /** Installs flat moment buffers, closing the previous ones, and the per-parameter and per-segment views of them. */
    private void setMoments(NDArray m, NDArray v) {
        if (expAvgFlat != null) {
            expAvg.values().forEach(NDArray::close);
            expAvgSq.values().forEach(NDArray::close);
            expAvgSegments.close();
            expAvgSqSegments.close();
            expAvgFlat.close();
            expAvgSqFlat.close();
        }
        expAvgFlat = m;
        expAvgSqFlat = v;
        expAvg = views(m);
        expAvgSq = views(v);
        expAvgSegments = segmentViews(m);
        expAvgSqSegments = segmentViews(v);
    }

    /** A flat buffer (total) cut into one view per update segment. */
    private NDList segmentViews(NDArray flat) {
        if (segments.length == 2) {
            return new NDList(flat.reshape(-1));
        }
        long[] at = new long[segments.length - 2];
        long sum = 0;
        int s = 1;
        for (int i = 0; i < sizes.length && s < segments.length - 1; i++) {
            if (i == segments[s]) {
                at[s - 1] = sum;
                s++;
            }
            sum += sizes[i];
        }
        return flat.split(at);
    }

    private Map<String, NDArray> views(NDArray flat) {
        NDList parts = slices(flat);
        Map<String, NDArray> out = new LinkedHashMap<>();
        int i = 0;
        for (Map.Entry<String, Param> e : params.entrySet()) {
            NDArray part = parts.get(i++);
            out.put(e.getKey(), part.reshape(e.getValue().shape()));
            part.close(); // the reshaped view keeps the storage
        }
        return out;
    }

    private static NDArray scoped(NDArray a, NDManager scratch) {
        a.attach(scratch);
        return a;
    }

    /** Optimizer steps taken (torch's per-parameter "step", equal for all parameters here). */
    public long stepCount() {
        return step;
    }

    /** The moments by {@link #EXP_AVG} / {@link #EXP_AVG_SQ} + parameter key, for saving (not copies). */
    public Map<String, NDArray> state() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        expAvg.forEach((k, a) -> out.put(EXP_AVG + k, a));
        expAvgSq.forEach((k, a) -> out.put(EXP_AVG_SQ + k, a));
        return out;
    }

    /**
     * Restores the moments and the step count saved by {@link #state()}, strictly: every moment of
     * every parameter with its shape, nothing else.
     */
    public void load(TensorSource source, long stepCount) {
        List<String> problems = new ArrayList<>();
        Map<String, NDArray> mine = state();
        for (String k : source.keys()) {
            if (!mine.containsKey(k)) {
                problems.add("unexpected '" + k + "'");
            }
        }
        for (Map.Entry<String, NDArray> e : mine.entrySet()) {
            if (!source.contains(e.getKey())) {
                problems.add("missing '" + e.getKey() + "'");
            } else if (!Arrays.equals(
                    source.info(e.getKey()).shape(), e.getValue().getShape().getShape())) {
                problems.add("'" + e.getKey() + "' has shape "
                        + Arrays.toString(source.info(e.getKey()).shape()) + ", expected "
                        + e.getValue().getShape());
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("optimizer state " + source.path() + " does not fit the trained "
                    + "parameters (" + problems.size() + " problems: "
                    + String.join(", ", problems.subList(0, Math.min(10, problems.size())))
                    + "): the checkpoint belongs to another model or training mode");
        }
        setMoments(loadFlat(source, EXP_AVG), loadFlat(source, EXP_AVG_SQ));
        this.step = stepCount;
    }

    /** The saved moments under {@code prefix}, flattened into one buffer in parameter order. */
    private NDArray loadFlat(TensorSource source, String prefix) {
        try (NDManager scratch = stateManager.newSubManager()) {
            NDList flat = new NDList(params.size());
            for (String k : params.keySet()) {
                flat.add(source.load(prefix + k, scratch).reshape(-1));
            }
            NDArray all = flat.size() == 1 ? flat.get(0).duplicate() : NDArrays.concat(flat);
            all.attach(stateManager);
            return all;
        }
    }

    public double learningRate() {
        return lr;
    }

    /** The learning rate of the next updates (a schedule sets it before each step, as torch's LR schedulers do). */
    public void setLearningRate(double lr) {
        if (!(lr >= 0)) {
            throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        }
        this.lr = lr;
    }
}
