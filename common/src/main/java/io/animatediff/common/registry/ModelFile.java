package io.animatediff.common.registry;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.animatediff.common.InvalidMessageException;
import io.animatediff.common.store.Sha256;
import java.util.regex.Pattern;

/**
 * One file of a registered model.
 *
 * @param path relative path inside the model, e.g. {@code unet/diffusion_pytorch_model.safetensors}
 * @param sha256 lowercase hex sha256 of its bytes
 * @param size bytes
 */
public record ModelFile(
        @JsonProperty("path") String path,
        @JsonProperty("sha256") String sha256,
        @JsonProperty(value = "size", required = true) long size) {
    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");

    public ModelFile {
        checkPath(path);
        if (!Sha256.isHex(sha256)) {
            throw new InvalidMessageException(
                    "sha256", "file '" + path + "' has sha256 '" + sha256 + "', not 64 lowercase hex digits", null);
        }
        if (size < 0) {
            throw new InvalidMessageException("size", "file '" + path + "' has size " + size + ": must be >= 0", null);
        }
    }

    /** Refuses absolute paths, '..', empty segments and unusual characters. */
    public static void checkPath(String path) {
        if (path == null || path.isEmpty() || path.length() > 512) {
            throw new InvalidMessageException("path", "file path '" + path + "' must have 1-512 characters", null);
        }
        for (String segment : path.split("/", -1)) {
            if (!SEGMENT.matcher(segment).matches()) {
                throw new InvalidMessageException(
                        "path",
                        "file path '" + path + "' has segment '" + segment + "': use relative paths of segments"
                                + " made of A-Z, a-z, 0-9, '.', '_', '-' (not starting with '.' or '-')",
                        null);
            }
        }
    }
}
