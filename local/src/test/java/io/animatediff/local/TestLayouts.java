package io.animatediff.local;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The project root seen from the tests, and settings that ignore the environment. */
final class TestLayouts {
    private TestLayouts() {}

    /** The checkout: {@code animatediff.home} (set by surefire), else the first parent holding {@code mvnw}. */
    static Path projectRoot() {
        String home = System.getProperty(LocalLayout.HOME_PROPERTY);
        if (home != null && !home.isBlank()) {
            return Path.of(home).toAbsolutePath().normalize();
        }
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("mvnw"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the project root (no mvnw above "
                    + Path.of("").toAbsolutePath() + "): run the tests through Maven");
        }
        return p;
    }

    /** Local broker and S3Proxy (never external, whatever the environment says), state in {@code stateDir}. */
    static LocalSettings settings(Path stateDir, boolean services) {
        return LocalSettings.from(new LocalLayout(projectRoot(), stateDir), services, name -> null)
                .withStartupTimeout(Duration.ofSeconds(180));
    }

    /** Live descendants of this JVM among {@code pids}, after giving them {@code wait} to be reaped. */
    static List<ProcessHandle> aliveDescendants(Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        List<ProcessHandle> alive;
        do {
            alive = ProcessHandle.current()
                    .descendants()
                    .filter(ProcessHandle::isAlive)
                    .toList();
            if (alive.isEmpty()) {
                return alive;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        return alive;
    }

    static String describe(List<ProcessHandle> handles) {
        return handles.stream()
                .map(h -> h.pid() + " "
                        + h.info()
                                .commandLine()
                                .map(Optional::of)
                                .orElse(Optional.empty())
                                .orElse("?"))
                .toList()
                .toString();
    }
}
