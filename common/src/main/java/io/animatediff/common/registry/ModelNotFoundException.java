package io.animatediff.common.registry;

import io.animatediff.common.protocol.ModelKind;

/** No model of that kind is registered under that name. */
public final class ModelNotFoundException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ModelKind kind;
    private final String name;

    public ModelNotFoundException(ModelKind kind, String name, String message) {
        super(message);
        this.kind = kind;
        this.name = name;
    }

    public ModelKind kind() {
        return kind;
    }

    public String name() {
        return name;
    }
}
