package io.animatediff.gateway;

import io.animatediff.common.protocol.JobOwnerTags;
import io.animatediff.common.store.Sha256;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;

/**
 * Jobs belong to the API key that submitted them, recorded in the job id itself: every id the
 * gateway makes ends in {@code -o<tag>}, where {@code tag} = first 16 hex digits of
 * sha256("owner\n" + api key hash). Every replica, a restarted gateway and a compacted topic
 * therefore agree on the owner with no store of their own, and the tag reveals neither the key
 * nor its hash.
 *
 * <p>A job id without a tag (published by another producer, e.g. an operator tool) has no owner:
 * any valid key may read it, and listings never show it.
 */
public final class JobOwners {
    private JobOwners() {}

    /** The owner tag of an API key hash. */
    public static String tag(String apiKeyHash) {
        return Sha256.hex(("owner\n" + apiKeyHash).getBytes(StandardCharsets.UTF_8))
                .substring(0, 16);
    }

    /** {@code baseId} with the owner's tag appended. */
    public static String own(String baseId, String apiKeyHash) {
        return baseId + "-o" + tag(apiKeyHash);
    }

    /** The owner tag recorded in a job id, if any. */
    public static Optional<String> tagOf(String jobId) {
        return JobOwnerTags.tagOf(jobId);
    }

    /** Whether {@code jobId} was submitted with the key of {@code apiKeyHash} (constant-time compare). */
    public static boolean isOwnedBy(String jobId, String apiKeyHash) {
        Optional<String> t = tagOf(jobId);
        return t.isPresent()
                && MessageDigest.isEqual(
                        t.get().getBytes(StandardCharsets.US_ASCII),
                        tag(apiKeyHash).getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * 403 when the id carries another API key's tag, whether or not such a job exists (so another
     * tenant's job ids reveal nothing); untagged ids pass (404 when unknown).
     */
    public static void checkAccess(String jobId, String apiKeyHash) {
        if (jobId != null && tagOf(jobId).isPresent() && !isOwnedBy(jobId, apiKeyHash)) {
            throw new ProblemException(
                    "forbidden",
                    Problem.of(
                            403,
                            "forbidden",
                            "Forbidden",
                            "job " + jobId + " belongs to another API key: use the key that submitted it",
                            List.of(new Problem.FieldViolation("id", "belongs to another API key"))),
                    java.util.Map.of());
        }
    }
}
