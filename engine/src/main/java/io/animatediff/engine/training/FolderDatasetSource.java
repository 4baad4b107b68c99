package io.animatediff.engine.training;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** A dataset in a local folder: {@code clips.jsonl} and the videos it names, relative to the folder. */
public final class FolderDatasetSource implements DatasetSource {
    private final Path root;

    public FolderDatasetSource(Path root) {
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("dataset folder " + root + " does not exist: pass a folder holding "
                    + INDEX + " and the videos it names");
        }
        this.root = root.toAbsolutePath().normalize();
    }

    @Override
    public String describe() {
        return root.toString();
    }

    @Override
    public InputStream open(String relativePath) throws IOException {
        return Files.newInputStream(resolve(relativePath));
    }

    @Override
    public List<String> list(String relativePath) throws IOException {
        Path dir = resolve(relativePath);
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Override
    public Optional<Path> localPath(String relativePath) {
        return Optional.of(resolve(relativePath));
    }

    /** The path under the root; a path leaving the root is refused. */
    private Path resolve(String relativePath) {
        Path p = root.resolve(relativePath).normalize();
        if (!p.startsWith(root)) {
            throw new IllegalArgumentException(
                    "'" + relativePath + "' leaves the dataset folder " + root + ": paths must be relative to it");
        }
        return p;
    }
}
