package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
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
 * <p>Parameters and the moments m, v (exp_avg, exp_avg_sq) are updated in place: they stay the same
 * arrays on their managers for the whole run (a checkpoint's moments replace the initial zeros once,
 * closing them), and every temporary of an update lives in the caller's scratch manager. Call
 * {@link #step} with autograd off (torch runs it under no_grad).
 */
public final class AdamW {
    /** Key prefixes of the moments in a saved optimizer state. */
    public static final String EXP_AVG = "exp_avg.";

    public static final String EXP_AVG_SQ = "exp_avg_sq.";

    private final Map<String, Param> params;
    private final NDManager stateManager;
    private final Map<String, NDArray> expAvg = new LinkedHashMap<>();
    private final Map<String, NDArray> expAvgSq = new LinkedHashMap<>();
    private final double lr;
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
        this.params = new LinkedHashMap<>(params);
        this.stateManager = stateManager;
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        for (Map.Entry<String, Param> e : this.params.entrySet()) {
            expAvg.put(e.getKey(), stateManager.zeros(e.getValue().shape()));
            expAvgSq.put(e.getKey(), stateManager.zeros(e.getValue().shape()));
        }
    }

    /**
     * One update. {@code grads} holds each parameter's gradient by key (every key of the optimizer);
     * temporaries go to {@code scratch}.
     */
    public void step(Map<String, NDArray> grads, NDManager scratch) {
        step++;
        double bias1 = 1 - Math.pow(beta1, step);
        double bias2 = 1 - Math.pow(beta2, step);
        double stepSize = lr / bias1;
        double bias2Sqrt = Math.sqrt(bias2);
        for (Map.Entry<String, Param> e : params.entrySet()) {
            NDArray g = grads.get(e.getKey());
            if (g == null) {
                throw new IllegalArgumentException("AdamW: no gradient for '" + e.getKey() + "'");
            }
            NDArray p = e.getValue().get();
            NDArray m = expAvg.get(e.getKey());
            NDArray v = expAvgSq.get(e.getKey());
            // 1. decoupled weight decay
            p.muli(1 - lr * weightDecay);
            // 2. moments: m.lerp_(g, 1 - beta1) = m + (1 - beta1) (g - m); v = beta2 v + (1 - beta2) g g
            NDArray d = scoped(g.sub(m), scratch).muli(1 - beta1);
            m.addi(d);
            NDArray g2 = scoped(g.mul(g), scratch).muli(1 - beta2);
            v.muli(beta2).addi(g2);
            // 3. p.addcdiv_(m, sqrt(v) / sqrt(bias2) + eps, value = -lr / bias1)
            NDArray denom = scoped(v.sqrt(), scratch).divi(bias2Sqrt).addi(eps);
            NDArray update = scoped(m.div(denom), scratch).muli(stepSize);
            p.subi(update);
        }
    }

    private static void replace(Map<String, NDArray> moments, String key, NDArray loaded) {
        NDArray old = moments.put(key, loaded);
        old.close();
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
        for (String k : params.keySet()) {
            replace(expAvg, k, source.load(EXP_AVG + k, stateManager));
            replace(expAvgSq, k, source.load(EXP_AVG_SQ + k, stateManager));
        }
        this.step = stepCount;
    }

    public double learningRate() {
        return lr;
    }
}
