package io.animatediff.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Where local mode finds the built project and keeps its state.
 *
 * <pre>
 * &lt;projectRoot&gt;/local/kafka-runtime/target/lib/     the broker's classpath
 * &lt;projectRoot&gt;/local/s3proxy-runtime/target/lib/   S3Proxy's classpath
 * &lt;projectRoot&gt;/gateway/target/quarkus-app/quarkus-run.jar
 * &lt;projectRoot&gt;/worker/target/classes + lib/
 * &lt;stateDir&gt;/logs/&lt;component&gt;.log   &lt;stateDir&gt;/kafka/   &lt;stateDir&gt;/s3/   &lt;stateDir&gt;/cache/
 * </pre>
 *
 * @param projectRoot the checkout (holds {@code mvnw})
 * @param stateDir local mode's data and logs (default {@code ./.animatediff/local})
 */
public record LocalLayout(Path projectRoot, Path stateDir) {
    /** System property / environment variable naming the project root (set by {@code ./animatediff}). */
    public static final String HOME_PROPERTY = "animatediff.home";

    public static final String HOME_ENV = "ANIMATEDIFF_HOME";
    /** Environment variable overriding the state folder. */
    public static final String STATE_ENV = "ANIMATEDIFF_LOCAL_DIR";

    public LocalLayout {
        projectRoot = projectRoot.toAbsolutePath().normalize();
        stateDir = stateDir.toAbsolutePath().normalize();
    }

    /** Root from {@value #HOME_PROPERTY} / {@value #HOME_ENV} (else the working folder); state in {@code ./.animatediff/local}. */
    public static LocalLayout fromEnvironment() {
        String home = System.getProperty(HOME_PROPERTY);
        if (home == null || home.isBlank()) {
            home = System.getenv(HOME_ENV);
        }
        String state = System.getenv(STATE_ENV);
        return new LocalLayout(
                Path.of(home == null || home.isBlank() ? "." : home),
                Path.of(state == null || state.isBlank() ? ".animatediff/local" : state));
    }

    public Path logs() {
        return stateDir.resolve("logs");
    }

    public Path log(String component) {
        return logs().resolve(component + ".log");
    }

    public Path kafkaDir() {
        return stateDir.resolve("kafka");
    }

    public Path s3Dir() {
        return stateDir.resolve("s3");
    }

    /** The worker's model disk cache. */
    public Path cacheDir() {
        return stateDir.resolve("cache");
    }

    /** Where the built-in model's files are written before registration. */
    public Path builtinDir() {
        return stateDir.resolve("builtin");
    }

    public Path kafkaLib() {
        return projectRoot.resolve("local/kafka-runtime/target/lib");
    }

    public Path s3proxyLib() {
        return projectRoot.resolve("local/s3proxy-runtime/target/lib");
    }

    public Path gatewayJar() {
        return projectRoot.resolve("gateway/target/quarkus-app/quarkus-run.jar");
    }

    public Path workerClasses() {
        return projectRoot.resolve("worker/target/classes");
    }

    public Path workerLib() {
        return projectRoot.resolve("worker/target/lib");
    }

    public Path trainerClasses() {
        return projectRoot.resolve("trainer/target/classes");
    }

    public Path trainerLib() {
        return projectRoot.resolve("trainer/target/lib");
    }

    /** The {@code java} launcher of the running JVM. */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Fails naming {@code component} and the build command when a built artifact is missing. */
    public void requireBuilt(String component, Path artifact) throws ComponentException {
        if (!Files.exists(artifact)) {
            throw new ComponentException(
                    component,
                    "is not built: " + artifact + " is missing; build it with `./mvnw -B -q -DskipTests package`"
                            + " in " + projectRoot + " (./animatediff does this itself)",
                    null);
        }
    }

    /** Deletes a folder and everything below it (no-op when absent). */
    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir + ": " + e.getMessage() + ": delete it by hand", e);
        }
    }
}
