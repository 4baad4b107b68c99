package io.animatediff.local;

import java.time.Duration;
import picocli.CommandLine.Option;

/** Options shared by {@code up} and {@code demo}. */
final class StartOptions {
    @Option(
            names = "--startup-timeout",
            defaultValue = "180",
            paramLabel = "SECONDS",
            description = "How long each component may take to become ready (default: ${DEFAULT-VALUE}).")
    long startupTimeoutSeconds;

    LocalSettings settings(boolean services) {
        return LocalSettings.fromEnvironment(LocalLayout.fromEnvironment(), services)
                .withStartupTimeout(Duration.ofSeconds(startupTimeoutSeconds));
    }
}
