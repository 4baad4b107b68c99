package io.animatediff.common.protocol;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The owner tag a gateway appends to the ids of the jobs it accepts ({@code <id>-o<16 hex>}, derived
 * from the submitting API key's hash): workers and trainers read it back to record who owns what a
 * job produces (a trained model's manifest).
 */
public final class JobOwnerTags {
    private static final Pattern TAGGED = Pattern.compile(".*-o([0-9a-f]{16})");

    private JobOwnerTags() {}

    /** The owner tag recorded in a job id, if any. */
    public static Optional<String> tagOf(String jobId) {
        if (jobId == null) {
            return Optional.empty();
        }
        Matcher m = TAGGED.matcher(jobId);
        return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
    }
}
