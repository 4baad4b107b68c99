package io.animatediff.engine.media;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;

/** Write-then-rename: a crash never leaves a half-written file or folder under the final name. */
final class AtomicFiles {
    private static final SecureRandom RANDOM = new SecureRandom();

    private AtomicFiles() {}

    /** Writes the content of one file given its (temporary) path. */
    @FunctionalInterface
    interface PathWriter {
        void write(Path temporary) throws IOException;
    }

    /**
     * Writes {@code target} through {@code writer} into a hidden temporary file in the same folder,
     * forces it to disk, then renames it over {@code target} (atomically where the file system can).
     */
    static void writeFile(Path target, PathWriter writer) throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        if (Files.isDirectory(abs)) {
            throw new IOException(abs + ": is a folder, expected a file name to write (e.g. out.gif)");
        }
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createFile(temporarySibling(abs));
        try {
            writer.write(tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            move(tmp, abs);
        } catch (IOException | RuntimeException | Error e) {
            deleteQuietly(tmp, e);
            throw e;
        }
    }

    /**
     * A fresh hidden name next to {@code target} ({@code .name.<random>.tmp}). Created by the caller
     * with default permissions, unlike {@link Files#createTempFile} which makes files owner-only.
     */
    static Path temporarySibling(Path target) {
        String random = Long.toUnsignedString(RANDOM.nextLong(), 36);
        return target.resolveSibling("." + target.getFileName() + "." + random + ".tmp");
    }

    /**
     * Renames {@code source} to {@code target}, replacing an existing file (or an empty folder when
     * {@code source} is a folder).
     */
    static void move(Path source, Path target) throws IOException {
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(source, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Deletes a file or a folder tree; a missing path is not an error. */
    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                try {
                    Files.delete(dir);
                } catch (DirectoryNotEmptyException e) {
                    throw new IOException(dir + ": could not remove temporary folder", e);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** Cleans up after a failed write, keeping the original failure as the reported one. */
    static void deleteQuietly(Path path, Throwable failure) {
        try {
            deleteTree(path);
        } catch (IOException cleanup) {
            failure.addSuppressed(cleanup);
        }
    }
}
