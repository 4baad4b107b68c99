package io.animatediff.engine.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path dir;

    @Test
    void aWriterThatDiesHalfWayLeavesTheOldFileAndNoTemporary() throws IOException {
        Path target = dir.resolve("out.gif");
        Files.writeString(target, "old");
        IOException e = assertThrows(
                IOException.class,
                () -> AtomicFiles.writeFile(target, tmp -> {
                    Files.writeString(tmp, "half of the new fi");
                    throw new IOException("disk full");
                }));
        assertEquals("disk full", e.getMessage());
        assertEquals("old", Files.readString(target));
        assertEquals(List.of("out.gif"), names());

        AtomicFiles.writeFile(target, tmp -> Files.writeString(tmp, "new"));
        assertEquals("new", Files.readString(target));
        assertEquals(List.of("out.gif"), names());
    }

    @Test
    void createsMissingFoldersAndRefusesAFolderAsTarget() throws IOException {
        Path nested = dir.resolve("a/b/c.mp4");
        AtomicFiles.writeFile(nested, tmp -> Files.writeString(tmp, "x"));
        assertEquals("x", Files.readString(nested));
        IOException e = assertThrows(
                IOException.class, () -> AtomicFiles.writeFile(dir.resolve("a"), tmp -> Files.writeString(tmp, "x")));
        assertEquals(dir.resolve("a") + ": is a folder, expected a file name to write (e.g. out.gif)", e.getMessage());
    }

    @Test
    void writtenFilesAreNotOwnerOnly() throws IOException {
        Path target = dir.resolve("shared.gif");
        AtomicFiles.writeFile(target, tmp -> Files.writeString(tmp, "x"));
        Path reference = Files.writeString(dir.resolve("reference"), "x"); // default permissions (umask)
        if (Files.getFileStore(dir).supportsFileAttributeView("posix")) {
            assertEquals(Files.getPosixFilePermissions(reference), Files.getPosixFilePermissions(target));
            assertEquals(
                    Files.getPosixFilePermissions(reference).contains(PosixFilePermission.GROUP_READ),
                    Files.getPosixFilePermissions(target).contains(PosixFilePermission.GROUP_READ));
        }
    }

    private List<String> names() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
