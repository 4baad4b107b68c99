package io.animatediff.engine.nn;

import java.util.List;

/** A checkpoint does not fit a module; the lists name every offending key. */
public final class WeightLoadException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient List<String> missing;
    private final transient List<String> unexpected;
    private final transient List<String> badShapes;

    public WeightLoadException(String message, List<String> missing, List<String> unexpected, List<String> badShapes) {
        super(message);
        this.missing = List.copyOf(missing);
        this.unexpected = List.copyOf(unexpected);
        this.badShapes = List.copyOf(badShapes);
    }

    public List<String> missing() {
        return missing;
    }

    public List<String> unexpected() {
        return unexpected;
    }

    public List<String> badShapes() {
        return badShapes;
    }
}
