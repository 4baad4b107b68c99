package io.animatediff.gateway;

import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Webhook settings, from the environment: {@code ANIMATEDIFF_WEBHOOK_ALLOWED_URLS} (comma-separated
 * URL prefixes a job's callback must start with; empty refuses every callback and runs no
 * dispatcher), {@code ANIMATEDIFF_WEBHOOK_SECRET} (HMAC-SHA256 key, required when URLs are allowed),
 * {@code ANIMATEDIFF_WEBHOOK_MAX_ATTEMPTS} (default 8), {@code ANIMATEDIFF_WEBHOOK_BACKOFF_MS} (first
 * retry delay, doubled per attempt up to 60 s; default 500).
 */
public record WebhookSettings(List<String> allowedPrefixes, String secret, int maxAttempts, Duration backoff) {
    public static final String ENV_ALLOWED_URLS = "ANIMATEDIFF_WEBHOOK_ALLOWED_URLS";
    public static final String ENV_SECRET = "ANIMATEDIFF_WEBHOOK_SECRET";
    public static final String ENV_MAX_ATTEMPTS = "ANIMATEDIFF_WEBHOOK_MAX_ATTEMPTS";
    public static final String ENV_BACKOFF_MS = "ANIMATEDIFF_WEBHOOK_BACKOFF_MS";
    /** Request header naming a job's callback URL on {@code POST /v1/animations}. */
    public static final String CALLBACK_HEADER = "Callback-Url";

    public WebhookSettings {
        allowedPrefixes = List.copyOf(allowedPrefixes);
        if (!allowedPrefixes.isEmpty() && (secret == null || secret.isBlank())) {
            throw new IllegalArgumentException(ENV_ALLOWED_URLS + " allows callbacks but " + ENV_SECRET
                    + " is empty: set a signing secret (receivers verify every event with it)");
        }
        if (maxAttempts < 1) {
            throw new IllegalArgumentException(ENV_MAX_ATTEMPTS + " must be >= 1, got " + maxAttempts);
        }
    }

    public static WebhookSettings fromEnvironment() {
        return from(System.getenv());
    }

    static WebhookSettings from(Map<String, String> env) {
        Function<String, String> get = k -> env.getOrDefault(k, "");
        List<String> prefixes = Arrays.stream(get.apply(ENV_ALLOWED_URLS).split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .toList();
        String attempts = get.apply(ENV_MAX_ATTEMPTS);
        String backoff = get.apply(ENV_BACKOFF_MS);
        return new WebhookSettings(
                prefixes,
                get.apply(ENV_SECRET),
                attempts.isBlank() ? 8 : Integer.parseInt(attempts.trim()),
                Duration.ofMillis(backoff.isBlank() ? 500 : Long.parseLong(backoff.trim())));
    }

    public boolean enabled() {
        return !allowedPrefixes.isEmpty();
    }

    /** Whether a callback URL is an absolute http(s) URL under one of the allowed prefixes. */
    public boolean allows(String url) {
        if (url == null || url.isBlank()) {
            return false;
        }
        try {
            URI u = new URI(url);
            if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme()))
                    || u.getHost() == null
                    || u.getUserInfo() != null
                    || url.contains("..")) {
                return false;
            }
        } catch (java.net.URISyntaxException e) {
            return false;
        }
        return allowedPrefixes.stream().anyMatch(url::startsWith);
    }
}
