package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.animatediff.common.InvalidMessageException;
import java.util.regex.Pattern;

/**
 * One object a succeeded job wrote.
 *
 * @param format the output format it encodes ({@code gif}, {@code mp4}, {@code png}, {@code frames})
 * @param key object key in the fleet's bucket, under {@code results/<jobId>/}
 * @param size bytes
 * @param sha256 lowercase hex sha256 of the bytes
 */
public record ResultObject(
        @JsonProperty("format") String format,
        @JsonProperty("key") String key,
        @JsonProperty(value = "size", required = true) long size,
        @JsonProperty("sha256") String sha256) {
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    public ResultObject {
        Records.nonBlank(format, "format");
        Records.nonBlank(key, "key");
        if (size < 0) {
            throw new InvalidMessageException("size", "must be >= 0, got " + size, null);
        }
        if (sha256 == null || !HEX64.matcher(sha256).matches()) {
            throw new InvalidMessageException("sha256", "'" + sha256 + "' is not 64 lowercase hex digits", null);
        }
    }
}
