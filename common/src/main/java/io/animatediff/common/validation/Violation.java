package io.animatediff.common.validation;

import java.util.List;

/**
 * One problem found in a request.
 *
 * @param field the JSON field, with index for list entries (e.g. {@code loras[1].scale})
 * @param message what is wrong, the limit, and what to do; names the field too, so it reads alone
 * @param severity {@link Severity#ERROR} refuses the request; {@link Severity#WARNING} is reported
 *     and the request runs (e.g. a prompt longer than the text encoder reads)
 */
public record Violation(String field, String message, Severity severity) {
    /** Whether the request may still run. */
    public enum Severity {
        ERROR,
        WARNING
    }

    public Violation {
        if (field == null || message == null || severity == null) {
            throw new IllegalArgumentException("field, message and severity are required");
        }
    }

    public static Violation error(String field, String message) {
        return new Violation(field, message, Severity.ERROR);
    }

    public static Violation warning(String field, String message) {
        return new Violation(field, message, Severity.WARNING);
    }

    public boolean isError() {
        return severity == Severity.ERROR;
    }

    /** Whether any violation refuses the request. */
    public static boolean hasErrors(List<Violation> violations) {
        return violations.stream().anyMatch(Violation::isError);
    }

    /** The errors only. */
    public static List<Violation> errors(List<Violation> violations) {
        return violations.stream().filter(Violation::isError).toList();
    }

    /** The warnings only. */
    public static List<Violation> warnings(List<Violation> violations) {
        return violations.stream().filter(v -> !v.isError()).toList();
    }

    @Override
    public String toString() {
        return severity + " " + field + ": " + message;
    }
}
