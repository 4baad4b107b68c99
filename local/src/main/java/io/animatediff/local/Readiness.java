package io.animatediff.local;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

/** Waiting until a component answers, failing early when its process dies. */
final class Readiness {
    /** Pause between two probes. */
    static final Duration PROBE_INTERVAL = Duration.ofMillis(500);

    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Readiness() {}

    /** One attempt: returns normally when ready, throws with the reason otherwise. */
    @FunctionalInterface
    interface Probe {
        void check() throws Exception;
    }

    /**
     * Probes until it passes. Fails with the component's log tail when {@code process} (may be null
     * for an external service) exits, or when {@code timeout} passes.
     */
    static void await(String component, ChildProcess process, Path log, Duration timeout, String what, Probe probe)
            throws ComponentException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no answer yet";
        while (true) {
            if (process != null) {
                process.checkAlive();
            }
            try {
                probe.check();
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ComponentException(component, "interrupted while waiting until " + what, log);
            } catch (Exception e) {
                last = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
            if (System.nanoTime() > deadline) {
                throw new ComponentException(
                        component,
                        "was not ready within " + timeout.toSeconds() + " s (waiting until " + what + "; last: " + last
                                + "); on a busy machine raise --startup-timeout",
                        log);
            }
            try {
                Thread.sleep(PROBE_INTERVAL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ComponentException(component, "interrupted while waiting until " + what, log);
            }
        }
    }

    /** A probe passing when {@code GET url} answers 200. */
    static Probe http200(String url) {
        return () -> {
            HttpRequest req = HttpRequest.newBuilder(URI.create(url))
                    .timeout(Duration.ofSeconds(5))
                    .GET()
                    .build();
            HttpResponse<String> res = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
            if (res.statusCode() != 200) {
                throw new IllegalStateException("GET " + url + " answered " + res.statusCode() + " " + res.body());
            }
        };
    }
}
