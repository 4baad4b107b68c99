package io.animatediff.common.registry;

import java.nio.file.Path;

/**
 * A local file to register as part of a model.
 *
 * @param path relative path inside the model ({@link ModelFile#checkPath})
 * @param source the file on disk
 * @param expectedSha256 the sha256 the file must have (e.g. as published with it), or null
 */
public record LocalModelFile(String path, Path source, String expectedSha256) {
    public LocalModelFile {
        ModelFile.checkPath(path);
        if (source == null) {
            throw new IllegalArgumentException("file '" + path + "' has no source path");
        }
    }

    /** A file without an expected hash. */
    public static LocalModelFile of(String path, Path source) {
        return new LocalModelFile(path, source, null);
    }
}
