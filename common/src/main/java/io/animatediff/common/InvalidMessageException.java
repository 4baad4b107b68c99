package io.animatediff.common;

/**
 * A JSON message or request body that cannot be read: malformed JSON, a wrong type, a missing or
 * unknown field, an unsupported schema version. Names the field by its JSON path (for example
 * {@code loras[1].scale}; empty for the whole document) so a gateway can answer 400 naming it and a
 * worker can fail the job with a reason.
 */
public final class InvalidMessageException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String field;
    private final String problem;

    public InvalidMessageException(String field, String problem, Throwable cause) {
        super((field.isEmpty() ? "" : field + ": ") + problem, cause);
        this.field = field;
        this.problem = problem;
    }

    /** JSON path of the offending field, e.g. {@code output_formats[0]}; empty for the document. */
    public String field() {
        return field;
    }

    /** What is wrong and what to do, without the field prefix. */
    public String problem() {
        return problem;
    }
}
