package io.animatediff.gateway;

import io.animatediff.common.Json;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.Seed;
import io.animatediff.common.store.Sha256;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code Idempotency-Key} handling without any store of its own: the job id itself records the
 * key's scope and the request's hash, {@code ik-<scope>-<requestHash>}, where
 *
 * <ul>
 *   <li>{@code scope} = first 32 hex digits of sha256(api key hash + "\n" + idempotency key): the
 *       same key sent by two API keys is two scopes;
 *   <li>{@code requestHash} = first 32 hex digits of sha256 of the parsed request as canonical
 *       JSON (field order and whitespace of the body do not matter; the seed as sent).
 * </ul>
 *
 * Any gateway replica that folded {@code animatediff.job-events} therefore knows, for a scope,
 * which job it produced and with which body, also after a restart and after compaction (the job id
 * is the record key). A job without an idempotency key gets a random UUID. Either id then gets its
 * owner's tag appended ({@link JobOwners}).
 */
public final class IdempotencyKeys {
    /** Longest accepted {@code Idempotency-Key}. */
    public static final int MAX_LENGTH = 255;

    public static final String HEADER = "Idempotency-Key";

    private static final Pattern ID = Pattern.compile("ik-([0-9a-f]{32})-([0-9a-f]{32})(?:-o[0-9a-f]{16})?");

    private IdempotencyKeys() {}

    /** The scope of a key sent with an API key (by the API key's hash). */
    public static String scope(String apiKeyHash, String idempotencyKey) {
        return Sha256.hex((apiKeyHash + "\n" + idempotencyKey).getBytes(StandardCharsets.UTF_8))
                .substring(0, 32);
    }

    /** The hash of a request as parsed (before the gateway fixes a seed). */
    public static String requestHash(GenerationRequest request) {
        return Sha256.hex(Json.writeBytes(request)).substring(0, 32);
    }

    public static String jobId(String scope, String requestHash) {
        return "ik-" + scope + "-" + requestHash;
    }

    /** The scope recorded in a job id made by {@link #jobId}. */
    public static Optional<String> scopeOf(String jobId) {
        Matcher m = ID.matcher(jobId);
        return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** The request hash recorded in a job id made by {@link #jobId}. */
    public static Optional<String> requestHashOf(String jobId) {
        Matcher m = ID.matcher(jobId);
        return m.matches() ? Optional.of(m.group(2)) : Optional.empty();
    }

    /**
     * The seed of an idempotent job sent without one: derived from its id, so two replicas racing
     * on the same retry publish identical jobs.
     */
    public static Seed seedFor(String jobId) {
        byte[] h = HexFormat.of().parseHex(Sha256.hex(("seed\n" + jobId).getBytes(StandardCharsets.UTF_8)));
        return Seed.of(ByteBuffer.wrap(h).getLong());
    }

    /**
     * Checks a header value: 1-{@value #MAX_LENGTH} printable ASCII characters.
     *
     * @throws ProblemException 400 naming the header
     */
    public static String check(String key) {
        if (key.isEmpty() || key.length() > MAX_LENGTH || !key.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
            throw ProblemException.badField(
                    HEADER,
                    "must be 1-" + MAX_LENGTH + " printable ASCII characters (e.g. a UUID), got "
                            + Math.min(key.length(), 1000) + " characters: send a unique key per logical request");
        }
        return key;
    }
}
