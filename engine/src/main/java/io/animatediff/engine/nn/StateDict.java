package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * A read-only view of named tensors (a checkpoint file, a converted or renamed view of one, or a
 * module's own weights). Tensors are loaded lazily, one at a time, as float32 on the given manager.
 */
public interface StateDict {
    /** Keys in a stable order. */
    Set<String> keys();

    /** Shape of {@code key}; IllegalArgumentException naming the key if absent. */
    long[] shape(String key);

    /** Loads {@code key} as float32 onto {@code manager}. */
    NDArray load(String key, NDManager manager);

    /** Where the tensors come from, for error messages. */
    String describe();

    /** A view keeping only the keys under {@code prefix}, with the prefix removed. */
    default StateDict under(String prefix) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String k : keys()) {
            if (k.startsWith(prefix)) {
                map.put(k.substring(prefix.length()), k);
            }
        }
        return mapped(map, describe() + " [" + prefix + "*]");
    }

    /** A view whose keys are {@code rename(key)}; keys renamed to null are dropped. */
    default StateDict renamed(UnaryOperator<String> rename) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String k : keys()) {
            String n = rename.apply(k);
            if (n != null) {
                String previous = map.putIfAbsent(n, k);
                if (previous != null) {
                    throw new IllegalArgumentException(describe() + ": keys '" + previous + "' and '" + k
                            + "' both map to '" + n + "': the file mixes two layouts");
                }
            }
        }
        return mapped(map, describe());
    }

    /** A view over {@code newKey -> sourceKey}. */
    default StateDict mapped(Map<String, String> newToSource, String description) {
        StateDict source = this;
        Map<String, String> map = new LinkedHashMap<>(newToSource);
        return new StateDict() {
            @Override
            public Set<String> keys() {
                return map.keySet();
            }

            @Override
            public long[] shape(String key) {
                return source.shape(sourceKey(key));
            }

            @Override
            public NDArray load(String key, NDManager manager) {
                return source.load(sourceKey(key), manager);
            }

            private String sourceKey(String key) {
                String s = map.get(key);
                if (s == null) {
                    throw new IllegalArgumentException(description + " has no tensor '" + key + "'");
                }
                return s;
            }

            @Override
            public String describe() {
                return description;
            }
        };
    }

    /** A view applying {@code transform} to the tensors of the given keys (e.g. reshapes). */
    default StateDict transformed(Map<String, long[]> newShapes, Function<NDArray, NDArray> transform) {
        StateDict source = this;
        return new StateDict() {
            @Override
            public Set<String> keys() {
                return source.keys();
            }

            @Override
            public long[] shape(String key) {
                long[] s = newShapes.get(key);
                return s != null ? s : source.shape(key);
            }

            @Override
            public NDArray load(String key, NDManager manager) {
                NDArray a = source.load(key, manager);
                return newShapes.containsKey(key) ? transform.apply(a) : a;
            }

            @Override
            public String describe() {
                return source.describe();
            }
        };
    }

    /** The union of several views; a key present in two of them is an error. */
    static StateDict union(String description, StateDict... parts) {
        Map<String, StateDict> owner = new LinkedHashMap<>();
        for (StateDict p : parts) {
            for (String k : p.keys()) {
                StateDict prev = owner.putIfAbsent(k, p);
                if (prev != null) {
                    throw new IllegalArgumentException(
                            description + ": key '" + k + "' is in both " + prev.describe() + " and " + p.describe());
                }
            }
        }
        Set<String> keys = new LinkedHashSet<>(owner.keySet());
        return new StateDict() {
            @Override
            public Set<String> keys() {
                return keys;
            }

            @Override
            public long[] shape(String key) {
                return part(key).shape(key);
            }

            @Override
            public NDArray load(String key, NDManager manager) {
                return part(key).load(key, manager);
            }

            private StateDict part(String key) {
                StateDict p = owner.get(key);
                if (p == null) {
                    throw new IllegalArgumentException(description + " has no tensor '" + key + "'");
                }
                return p;
            }

            @Override
            public String describe() {
                return description;
            }
        };
    }

    /** The current weights of a module as a state dict (copies on load). */
    static StateDict of(Module module, String description) {
        Map<String, Param> tensors = module.namedTensors();
        return new StateDict() {
            @Override
            public Set<String> keys() {
                return tensors.keySet();
            }

            @Override
            public long[] shape(String key) {
                return param(key).shape().getShape();
            }

            @Override
            public NDArray load(String key, NDManager manager) {
                NDArray copy = param(key).get().duplicate();
                copy.attach(manager);
                return copy;
            }

            private Param param(String key) {
                Param p = tensors.get(key);
                if (p == null) {
                    throw new IllegalArgumentException(description + " has no tensor '" + key + "'");
                }
                return p;
            }

            @Override
            public String describe() {
                return description;
            }
        };
    }
}
