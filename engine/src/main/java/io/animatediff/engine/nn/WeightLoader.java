package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Strict loading: every parameter of the module must be in the state dict with its exact shape,
 * and every tensor of the state dict must belong to the module. Buffers are optional (recomputed).
 * Failures list every missing, unexpected and mis-shaped key at once.
 */
public final class WeightLoader {
    private static final int LIST_LIMIT = 40;

    private WeightLoader() {}

    /** Loads all of {@code module}'s parameters; {@code ignore} names source keys skipped on purpose. */
    public static void load(Module module, StateDict source, NDManager manager, Predicate<String> ignore) {
        load(module, source, manager, k -> true, ignore);
    }

    /**
     * Loads the parameters whose keys satisfy {@code selects} (e.g. only the motion modules), strictly
     * within that subset; the other parameters are left as they are.
     */
    public static void load(
            Module module, StateDict source, NDManager manager, Predicate<String> selects, Predicate<String> ignore) {
        Map<String, Param> params = new java.util.LinkedHashMap<>(module.namedTensors());
        params.keySet().removeIf(selects.negate());
        List<String> missing = new ArrayList<>();
        List<String> badShape = new ArrayList<>();
        Set<String> unexpected = new LinkedHashSet<>();
        for (String k : source.keys()) {
            if (!params.containsKey(k) && !ignore.test(k)) {
                unexpected.add(k);
            }
        }
        for (Map.Entry<String, Param> e : params.entrySet()) {
            Param p = e.getValue();
            if (!source.keys().contains(e.getKey())) {
                if (!p.isBuffer()) {
                    missing.add(e.getKey());
                }
                continue;
            }
            long[] have = source.shape(e.getKey());
            long[] want = p.shape().getShape();
            if (!Arrays.equals(have, want) && !(p.isBuffer())) {
                badShape.add(e.getKey() + " (checkpoint " + Arrays.toString(have) + ", model " + Arrays.toString(want)
                        + ")");
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !badShape.isEmpty()) {
            StringBuilder sb = new StringBuilder();
            sb.append(source.describe())
                    .append(" does not fit ")
                    .append(module.getClass().getSimpleName());
            section(sb, "missing keys", missing);
            section(sb, "unexpected keys", new ArrayList<>(unexpected));
            section(sb, "shape mismatches", badShape);
            sb.append("\nCheck that the file is the kind of model expected here and that its config matches it.");
            throw new WeightLoadException(sb.toString(), missing, new ArrayList<>(unexpected), badShape);
        }
        for (Map.Entry<String, Param> e : params.entrySet()) {
            Param p = e.getValue();
            if (p.isBuffer()) {
                continue; // recomputed below; a checkpoint's copy (e.g. pos_encoder.pe) is not trusted
            }
            NDArray a = source.load(e.getKey(), manager);
            p.set(a);
        }
        module.computeBuffers(manager);
    }

    /** Strict load with nothing ignored. */
    public static void load(Module module, StateDict source, NDManager manager) {
        load(module, source, manager, k -> false);
    }

    private static void section(StringBuilder sb, String title, List<String> keys) {
        if (keys.isEmpty()) {
            return;
        }
        sb.append("\n  ").append(keys.size()).append(' ').append(title).append(':');
        for (int i = 0; i < Math.min(LIST_LIMIT, keys.size()); i++) {
            sb.append("\n    ").append(keys.get(i));
        }
        if (keys.size() > LIST_LIMIT) {
            sb.append("\n    ... and ").append(keys.size() - LIST_LIMIT).append(" more");
        }
    }
}
