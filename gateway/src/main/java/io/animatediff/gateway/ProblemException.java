package io.animatediff.gateway;

import java.util.List;
import java.util.Map;

/**
 * A request the gateway refuses, carrying the problem document to answer with and extra headers
 * (e.g. {@code Retry-After}). Thrown by the plain service classes; the resource layer maps it.
 */
public final class ProblemException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why, for the rejection metric. */
    private final String reason;

    @SuppressWarnings("serial")
    private final Problem problem;

    @SuppressWarnings("serial")
    private final Map<String, String> headers;

    public ProblemException(String reason, Problem problem, Map<String, String> headers) {
        super(problem.detail());
        this.reason = reason;
        this.problem = problem;
        this.headers = Map.copyOf(headers);
    }

    public ProblemException(String reason, Problem problem) {
        this(reason, problem, Map.of());
    }

    public String reason() {
        return reason;
    }

    public Problem problem() {
        return problem;
    }

    public Map<String, String> headers() {
        return headers;
    }

    public int status() {
        return problem.status();
    }

    // ---------------------------------------------------------------- the kinds the gateway uses

    public static ProblemException badRequest(String detail, List<Problem.FieldViolation> violations) {
        return new ProblemException(
                "invalid_request", Problem.of(400, "invalid-request", "Invalid request", detail, violations));
    }

    public static ProblemException badField(String field, String message) {
        return badRequest(field + ": " + message, List.of(new Problem.FieldViolation(field, message)));
    }

    public static ProblemException notFound(String detail) {
        return new ProblemException("not_found", Problem.of(404, "not-found", "Not found", detail, List.of()));
    }

    public static ProblemException conflict(String reason, String detail) {
        return new ProblemException(reason, Problem.of(409, "conflict", "Conflict", detail, List.of()));
    }

    public static ProblemException unprocessable(
            String reason, String title, String detail, List<Problem.FieldViolation> violations) {
        return new ProblemException(reason, Problem.of(422, reason.replace('_', '-'), title, detail, violations));
    }

    public static ProblemException unavailable(String detail) {
        return new ProblemException(
                "unavailable", Problem.of(503, "unavailable", "Service unavailable", detail, List.of()));
    }
}
