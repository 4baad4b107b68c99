package io.animatediff.common.protocol;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.math.BigInteger;
import java.security.SecureRandom;

/**
 * An unsigned 64-bit random seed (published AnimateDiff configs use seeds such as
 * 13100322578370451493, above Java's signed long). {@code bits} holds the two's-complement bits;
 * {@link #toString()} prints the unsigned decimal.
 *
 * <p>JSON: read from a number in [0, 18446744073709551615] or from a string of decimal digits;
 * written as a <em>string</em> of decimal digits, because JSON parsers that hold numbers as doubles
 * (JavaScript, jq) would round a 64-bit seed and the job would not be reproducible.
 */
@JsonSerialize(using = Seed.Serializer.class)
@JsonDeserialize(using = Seed.Deserializer.class)
public record Seed(long bits) {
    /** 2^64 - 1, the largest seed. */
    public static final BigInteger MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    private static final SecureRandom RANDOM = new SecureRandom();

    /** A seed from its 64 bits (a negative long stands for a seed above 2^63 - 1). */
    public static Seed of(long bits) {
        return new Seed(bits);
    }

    /** A seed from an exact integer in [0, 2^64 - 1]. */
    public static Seed of(BigInteger value) {
        if (value.signum() < 0 || value.compareTo(MAX) > 0) {
            throw new IllegalArgumentException(
                    "seed " + value + " is outside [0, " + MAX + "]: pass an unsigned 64-bit integer");
        }
        return new Seed(value.longValue());
    }

    /** Parses unsigned decimal digits, e.g. {@code "13100322578370451493"}. */
    public static Seed parse(String text) {
        if (text == null
                || text.isEmpty()
                || text.length() > 20
                || !text.chars().allMatch(Seed::isDigit)) {
            throw new IllegalArgumentException(
                    "seed '" + text + "' is not an unsigned decimal integer: pass digits only, at most " + MAX);
        }
        return of(new BigInteger(text));
    }

    /** A fresh seed from a secure random source (the gateway fixes it so the job is reproducible). */
    public static Seed random() {
        return new Seed(RANDOM.nextLong());
    }

    /** The seed as an exact non-negative integer. */
    public BigInteger toBigInteger() {
        return new BigInteger(Long.toUnsignedString(bits));
    }

    /** Unsigned decimal. */
    @Override
    public String toString() {
        return Long.toUnsignedString(bits);
    }

    private static boolean isDigit(int c) {
        return c >= '0' && c <= '9';
    }

    /** Writes the unsigned decimal as a JSON string. */
    static final class Serializer extends StdSerializer<Seed> {
        private static final long serialVersionUID = 1L;

        Serializer() {
            super(Seed.class);
        }

        @Override
        public void serialize(Seed value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            gen.writeString(value.toString());
        }
    }

    /** Reads a JSON integer or a string of digits, refusing anything else with the reason. */
    static final class Deserializer extends StdDeserializer<Seed> {
        private static final long serialVersionUID = 1L;

        Deserializer() {
            super(Seed.class);
        }

        @Override
        public Seed deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonToken t = p.currentToken();
            try {
                if (t == JsonToken.VALUE_NUMBER_INT) {
                    return of(p.getBigIntegerValue());
                }
                if (t == JsonToken.VALUE_STRING) {
                    return parse(p.getText());
                }
            } catch (IllegalArgumentException e) {
                throw InvalidFormatException.from(p, e.getMessage(), p.getText(), Seed.class);
            }
            throw InvalidFormatException.from(
                    p,
                    "seed must be an unsigned 64-bit integer (a JSON integer or a string of digits), got "
                            + p.getText(),
                    p.getText(),
                    Seed.class);
        }
    }
}
