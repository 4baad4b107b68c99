package io.animatediff.gateway;

import io.animatediff.common.store.Sha256;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Collection;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Bearer API keys, known only by their sha256: a request's key is hashed and looked up, so no key
 * is ever held in clear. The hash also names the key elsewhere (rate limits, idempotency scope).
 */
public final class ApiKeys {
    private static final String BEARER = "bearer ";

    private final Set<String> hashes;

    /**
     * @param hashes lower-case hex sha256 of the accepted keys
     * @throws IllegalArgumentException an entry is not 64 hex digits (names it, never a key)
     */
    public ApiKeys(Collection<String> hashes) {
        this.hashes = hashes.stream()
                .map(String::trim)
                .filter(h -> !h.isEmpty())
                .map(h -> h.toLowerCase(Locale.ROOT))
                .collect(Collectors.toUnmodifiableSet());
        for (String h : this.hashes) {
            if (!Sha256.isHex(h)) {
                throw new IllegalArgumentException("API key hash '" + h + "' is not 64 hex digits: set "
                        + "ANIMATEDIFF_API_KEY_HASHES to comma-separated sha256 hex values (e.g. `printf %s KEY |"
                        + " sha256sum`)");
            }
        }
    }

    /** The sha256 hex of a key, as configured. */
    public static String hash(String key) {
        return Sha256.hex(key.getBytes(StandardCharsets.UTF_8));
    }

    public boolean isEmpty() {
        return hashes.isEmpty();
    }

    /**
     * The hash of the presented key when an {@code Authorization: Bearer <key>} header carries an
     * accepted one; empty otherwise.
     */
    public Optional<String> authenticate(String authorizationHeader) {
        if (authorizationHeader == null
                || authorizationHeader.length() <= BEARER.length()
                || !authorizationHeader.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return Optional.empty();
        }
        String key = authorizationHeader.substring(BEARER.length()).trim();
        if (key.isEmpty()) {
            return Optional.empty();
        }
        // every configured hash is compared, each in constant time: the answer's timing tells nothing
        byte[] h = hash(key).getBytes(StandardCharsets.US_ASCII);
        String found = null;
        for (String candidate : hashes) {
            if (MessageDigest.isEqual(h, candidate.getBytes(StandardCharsets.US_ASCII))) {
                found = candidate;
            }
        }
        return Optional.ofNullable(found);
    }
}
