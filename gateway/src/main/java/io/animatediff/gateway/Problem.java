package io.animatediff.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.animatediff.common.validation.Violation;
import java.util.List;

/**
 * An RFC 9457 problem document ({@code application/problem+json}) with the fields that are wrong.
 *
 * @param type a URI naming the kind of problem
 * @param title short summary of the kind
 * @param status the HTTP status
 * @param detail what went wrong this time and what to do
 * @param violations each offending field with its message (empty when no field is at fault)
 */
@JsonPropertyOrder({"type", "title", "status", "detail", "violations"})
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Problem(
        @JsonProperty("type") String type,
        @JsonProperty("title") String title,
        @JsonProperty("status") int status,
        @JsonProperty("detail") String detail,
        @JsonProperty("violations") List<FieldViolation> violations) {

    public static final String MEDIA_TYPE = "application/problem+json";

    public Problem {
        violations = violations == null ? List.of() : List.copyOf(violations);
    }

    /**
     * One offending field.
     *
     * @param field JSON path, e.g. {@code loras[1].scale}; empty for the whole body
     * @param message what is wrong, the limit, what to do
     */
    public record FieldViolation(
            @JsonProperty("field") String field,
            @JsonProperty("message") String message) {
        static FieldViolation of(Violation v) {
            return new FieldViolation(v.field(), v.message());
        }
    }

    /** A problem with a slug type under {@code /problems/}. */
    public static Problem of(int status, String slug, String title, String detail, List<FieldViolation> violations) {
        return new Problem("/problems/" + slug, title, status, detail, violations);
    }
}
