package io.animatediff.common.trace;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A W3C Trace Context {@code traceparent} ({@code 00-<32 hex trace id>-<16 hex span id>-<2 hex
 * flags>}): the gateway starts (or continues) one per job, every hop (Kafka record, worker, webhook)
 * carries the same trace id with its own span id, so one job is one trace in any OpenTelemetry
 * backend that reads the header.
 *
 * @param traceId 32 lower-case hex digits, not all zero
 * @param spanId 16 lower-case hex digits, not all zero
 * @param flags trace flags (bit 0 = sampled)
 */
public record TraceParent(String traceId, String spanId, int flags) {
    /** Header name, in HTTP and in Kafka record headers. */
    public static final String HEADER = "traceparent";

    private static final Pattern FORMAT = Pattern.compile("00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})");
    private static final SecureRandom RANDOM = new SecureRandom();

    public TraceParent {
        if (traceId == null
                || !traceId.matches("[0-9a-f]{32}")
                || traceId.chars().allMatch(c -> c == '0')) {
            throw new IllegalArgumentException("trace id must be 32 lower-case hex digits, not all zero: " + traceId);
        }
        if (spanId == null || !spanId.matches("[0-9a-f]{16}") || spanId.chars().allMatch(c -> c == '0')) {
            throw new IllegalArgumentException("span id must be 16 lower-case hex digits, not all zero: " + spanId);
        }
        if (flags < 0 || flags > 255) {
            throw new IllegalArgumentException("flags must be one byte, got " + flags);
        }
    }

    /** A new trace (sampled). */
    public static TraceParent newRoot() {
        return new TraceParent(randomHex(16), randomHex(8), 1);
    }

    /** Parses a header value; empty when absent or malformed (a bad header starts a new trace). */
    public static Optional<TraceParent> parse(String header) {
        if (header == null) {
            return Optional.empty();
        }
        var m = FORMAT.matcher(header.trim());
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new TraceParent(m.group(1), m.group(2), Integer.parseInt(m.group(3), 16)));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** The incoming trace continued with a new span, or a new trace when there is none. */
    public static TraceParent continueOrStart(String header) {
        return parse(header).map(TraceParent::child).orElseGet(TraceParent::newRoot);
    }

    /** The same trace, a new span (the next hop). */
    public TraceParent child() {
        return new TraceParent(traceId, randomHex(8), flags);
    }

    /** The header value. */
    public String header() {
        return "00-" + traceId + "-" + spanId + "-" + String.format("%02x", flags);
    }

    @Override
    public String toString() {
        return header();
    }

    private static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        do {
            RANDOM.nextBytes(b);
        } while (allZero(b));
        return HexFormat.of().formatHex(b);
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
