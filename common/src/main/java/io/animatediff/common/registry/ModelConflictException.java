package io.animatediff.common.registry;

/** A model of that kind and name is already registered with other files. */
public final class ModelConflictException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ModelConflictException(String message) {
        super(message);
    }
}
