package io.animatediff.common;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one JSON configuration of the project: records, {@code java.time} as ISO-8601 text, nulls
 * omitted on write, strict numbers on read (no floats into integer fields, no strings into numbers,
 * no NaN, no duplicate keys, no trailing tokens).
 *
 * <p>Unknown fields, decided on purpose:
 *
 * <ul>
 *   <li>{@link #mapper()} ignores them. Queue messages and stored manifests use it: a newer
 *       producer may add a field without breaking an older consumer; a change that older consumers
 *       must not misread bumps {@code "schema"} instead. Every known field is still validated.
 *   <li>{@link #strictMapper()} rejects them. User-facing request bodies use it, so a typo such as
 *       {@code num_frame} is a 400 naming the field instead of a silently ignored setting.
 * </ul>
 */
public final class Json {
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .addModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.READ_UNKNOWN_ENUM_VALUES_USING_DEFAULT_VALUE)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .serializationInclusion(JsonInclude.Include.NON_NULL)
            .withCoercionConfig(
                    LogicalType.Textual,
                    cfg -> cfg.setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                            .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                            .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .build();

    private static final ObjectMapper STRICT = MAPPER.copy().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private static final Pattern MISSING = Pattern.compile("Missing required creator property '([^']+)'");

    private Json() {}

    /** Mapper for queue messages and stored documents: unknown fields are ignored. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** Mapper for user-facing request bodies: unknown fields are an error. */
    public static ObjectMapper strictMapper() {
        return STRICT;
    }

    /** Serializes any protocol record to compact JSON text. */
    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(
                    "cannot serialize " + value.getClass().getName() + ": " + e, e);
        }
    }

    /** Serializes any protocol record to UTF-8 JSON bytes. */
    public static byte[] writeBytes(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(
                    "cannot serialize " + value.getClass().getName() + ": " + e, e);
        }
    }

    /** Serializes with indentation, for documents people read (manifests). */
    public static byte[] writePretty(Object value) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(
                    "cannot serialize " + value.getClass().getName() + ": " + e, e);
        }
    }

    /** Reads a queue message or stored document (unknown fields ignored). */
    public static <T> T read(String json, Class<T> type) {
        try {
            return MAPPER.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw invalid(e, type);
        }
    }

    /** Reads a queue message or stored document (unknown fields ignored). */
    public static <T> T read(byte[] json, Class<T> type) {
        try {
            return MAPPER.readValue(json, type);
        } catch (IOException e) {
            throw invalidOrIo(e, type);
        }
    }

    /** Reads a user-facing request body (unknown fields rejected). */
    public static <T> T readStrict(String json, Class<T> type) {
        try {
            return STRICT.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw invalid(e, type);
        }
    }

    /** Reads a user-facing request body (unknown fields rejected). */
    public static <T> T readStrict(InputStream json, Class<T> type) {
        try {
            return STRICT.readValue(json, type);
        } catch (IOException e) {
            throw invalidOrIo(e, type);
        }
    }

    private static RuntimeException invalidOrIo(IOException e, Class<?> type) {
        if (e instanceof JsonProcessingException jpe) {
            return invalid(jpe, type);
        }
        return new UncheckedIOException("cannot read " + type.getSimpleName() + " JSON: " + e.getMessage(), e);
    }

    /** Turns Jackson's exception into one naming the JSON field and saying what to do. */
    static InvalidMessageException invalid(JsonProcessingException e, Class<?> type) {
        String what = type.getSimpleName();
        if (!(e instanceof JsonMappingException jme)) {
            String at = e.getLocation() == null
                    ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column "
                            + e.getLocation().getColumnNr();
            String problem = String.valueOf(e.getOriginalMessage())
                    .replaceAll("\\s*\\(start marker at \\[Source.*$", "")
                    .replaceAll("\\s*\\[Source.*$", "")
                    .replace('\n', ' ');
            // a malformed value (e.g. NaN, Infinity): name the field being read; a body cut short is
            // the whole body's problem
            String field = "";
            if (!(e instanceof com.fasterxml.jackson.core.io.JsonEOFException)
                    && e.getProcessor() instanceof com.fasterxml.jackson.core.JsonParser parser) {
                try {
                    String name = parser.currentName();
                    field = name == null ? "" : name;
                } catch (IOException | RuntimeException ignored) {
                    field = "";
                }
            }
            return new InvalidMessageException(
                    field,
                    "not valid JSON for " + what + at + ": " + problem + ": send one well-formed JSON object",
                    e);
        }
        String path = path(jme);
        if (jme instanceof ValueInstantiationException && jme.getCause() != null) {
            // our own record constructors: their messages already name the field and the fix
            Throwable cause = jme.getCause();
            if (cause instanceof InvalidMessageException ime) {
                return new InvalidMessageException(join(path, ime.field()), ime.problem(), e);
            }
            return new InvalidMessageException(path, cause.getMessage(), e);
        }
        if (jme instanceof UnrecognizedPropertyException upe) {
            return new InvalidMessageException(
                    path,
                    "unknown field '" + upe.getPropertyName() + "' in " + what
                            + ": remove it or correct its spelling (known fields: "
                            + upe.getKnownPropertyIds() + ")",
                    e);
        }
        String original = String.valueOf(jme.getOriginalMessage());
        Matcher missing = MISSING.matcher(original);
        if (missing.find()) {
            String name = missing.group(1);
            String field = path.equals(name) || path.endsWith("." + name) ? path : join(path, name);
            return new InvalidMessageException(field, "required field is missing: add it", e);
        }
        if (jme instanceof MismatchedInputException && !original.startsWith("Cannot ")) {
            // raised by our own deserializers (e.g. Seed): the message already says what to do
            return new InvalidMessageException(path, original, e);
        }
        if (jme instanceof InvalidFormatException ife) {
            return new InvalidMessageException(
                    path,
                    "value " + quote(ife.getValue()) + " is not a valid " + typeName(ife.getTargetType()) + ": send "
                            + article(typeName(ife.getTargetType())),
                    e);
        }
        if (jme instanceof MismatchedInputException mie && mie.getTargetType() != null) {
            String expected = article(typeName(mie.getTargetType()));
            return new InvalidMessageException(path, "wrong JSON type: send " + expected, e);
        }
        return new InvalidMessageException(path, String.valueOf(jme.getOriginalMessage()), e);
    }

    private static String article(String typeName) {
        return switch (typeName) {
            case "integer", "array" -> "an " + typeName;
            case "number", "string", "boolean" -> "a " + typeName;
            default -> "a JSON object";
        };
    }

    private static String typeName(Class<?> t) {
        if (t == int.class || t == Integer.class || t == long.class || t == Long.class) {
            return "integer";
        }
        if (t == double.class || t == Double.class || t == float.class || t == Float.class) {
            return "number";
        }
        if (t == String.class) {
            return "string";
        }
        if (t == boolean.class || t == Boolean.class) {
            return "boolean";
        }
        if (java.util.Collection.class.isAssignableFrom(t)) {
            return "array";
        }
        return t.getSimpleName();
    }

    private static String quote(Object v) {
        return v instanceof String s ? "'" + s + "'" : String.valueOf(v);
    }

    private static String join(String a, String b) {
        if (a.isEmpty()) {
            return b;
        }
        return b.isEmpty() ? a : a + "." + b;
    }

    private static String path(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                if (sb.length() > 0) {
                    sb.append('.');
                }
                sb.append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                sb.append('[').append(ref.getIndex()).append(']');
            }
        }
        return sb.toString();
    }
}
