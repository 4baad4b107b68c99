package io.animatediff.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.animatediff.engine.nn.StateDict;
import io.animatediff.engine.weights.TensorSource;
import java.util.LinkedHashSet;
import java.util.Set;

/** A tensor file (safetensors or torch zip) seen as a {@link StateDict}. */
final class TensorStateDict implements StateDict {
    private final TensorSource source;
    private final Set<String> keys;

    TensorStateDict(TensorSource source) {
        this.source = source;
        this.keys = new LinkedHashSet<>(source.keys());
    }

    @Override
    public Set<String> keys() {
        return keys;
    }

    @Override
    public long[] shape(String key) {
        return source.info(key).shape();
    }

    @Override
    public NDArray load(String key, NDManager manager) {
        return source.load(key, manager);
    }

    @Override
    public String describe() {
        return source.path().toString();
    }
}
