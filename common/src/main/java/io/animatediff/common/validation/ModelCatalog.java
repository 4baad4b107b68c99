package io.animatediff.common.validation;

import io.animatediff.common.protocol.ModelKind;
import java.util.Map;
import java.util.Set;

/** Which models exist, by kind and name (the registry implements it over the object store). */
@FunctionalInterface
public interface ModelCatalog {
    /** Whether a model of this kind is registered under this name. */
    boolean contains(ModelKind kind, String name);

    /** A fixed catalog, for tests and for configuration-defined model sets. */
    static ModelCatalog of(Map<ModelKind, Set<String>> models) {
        Map<ModelKind, Set<String>> copy = Map.copyOf(models);
        return (kind, name) -> copy.getOrDefault(kind, Set.of()).contains(name);
    }
}
