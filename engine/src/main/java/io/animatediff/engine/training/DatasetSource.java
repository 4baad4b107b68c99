package io.animatediff.engine.training;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Where a dataset's files live: a local folder ({@link FolderDatasetSource}) or an object-store
 * prefix (the trainer service's). Paths are relative to the dataset root and use {@code /}; the
 * root holds {@code clips.jsonl}.
 */
public interface DatasetSource {
    /** The dataset's index file, one JSON object per line. */
    String INDEX = "clips.jsonl";

    /** Where the dataset is, for messages (e.g. a folder or s3://bucket/prefix). */
    String describe();

    /** Opens the file at {@code relativePath}; NoSuchFileException if absent. */
    InputStream open(String relativePath) throws IOException;

    /**
     * The names of the files directly under the folder {@code relativePath}, sorted; empty when
     * there is no such folder (a plain file or nothing).
     */
    List<String> list(String relativePath) throws IOException;

    /**
     * The file or folder on this machine's disk, when the source is local (so readers need no copy);
     * empty for remote sources, whose files are fetched through {@link #open} and {@link #list}.
     */
    default Optional<Path> localPath(String relativePath) {
        return Optional.empty();
    }
}
