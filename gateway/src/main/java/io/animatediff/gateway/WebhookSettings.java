package io.animatediff.gateway;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Webhook settings, from the environment: {@code ANIMATEDIFF_WEBHOOK_ALLOWED_URLS} (comma-separated
 * URL prefixes a job's callback must start with; empty refuses every callback and runs no
 * dispatcher), {@code ANIMATEDIFF_WEBHOOK_SECRET} (HMAC-SHA256 key, required when URLs are allowed),
 * {@code ANIMATEDIFF_WEBHOOK_MAX_ATTEMPTS} (default 8), {@code ANIMATEDIFF_WEBHOOK_BACKOFF_MS} (first
 * retry delay, doubled per attempt up to 60 s; default 500). The gateway reads them through its
 * configuration ({@code animatediff.webhook.*}, see {@link GatewayConfig.Webhook}), so the same
 * names also work as system properties and in {@code application.properties}.
 */
public record WebhookSettings(List<String> allowedPrefixes, String secret, int maxAttempts, Duration backoff) {
    public static final String ENV_ALLOWED_URLS = "ANIMATEDIFF_WEBHOOK_ALLOWED_URLS";
    public static final String ENV_SECRET = "ANIMATEDIFF_WEBHOOK_SECRET";
    public static final String ENV_MAX_ATTEMPTS = "ANIMATEDIFF_WEBHOOK_MAX_ATTEMPTS";
    public static final String ENV_BACKOFF_MS = "ANIMATEDIFF_WEBHOOK_BACKOFF_MS";
    /** Request header naming a job's callback URL on {@code POST /v1/animations}. */
    public static final String CALLBACK_HEADER = "Callback-Url";
    /** Longest callback URL accepted (the common browser and proxy limit). */
    public static final int MAX_URL_LENGTH = 2048;

    public static final int DEFAULT_MAX_ATTEMPTS = 8;
    public static final long DEFAULT_BACKOFF_MS = 500;

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

    /** Settings from the environment variables above (names as in the fleet contract). */
    static WebhookSettings from(Map<String, String> env) {
        Function<String, String> get = k -> env.getOrDefault(k, "");
        String attempts = get.apply(ENV_MAX_ATTEMPTS);
        String backoff = get.apply(ENV_BACKOFF_MS);
        return parse(
                get.apply(ENV_ALLOWED_URLS),
                get.apply(ENV_SECRET),
                attempts.isBlank() ? DEFAULT_MAX_ATTEMPTS : Integer.parseInt(attempts.trim()),
                backoff.isBlank() ? DEFAULT_BACKOFF_MS : Long.parseLong(backoff.trim()));
    }

    /** Settings from their configured values: {@code allowedUrls} comma-separated, blanks ignored. */
    public static WebhookSettings parse(String allowedUrls, String secret, int maxAttempts, long backoffMs) {
        List<String> prefixes = Arrays.stream((allowedUrls == null ? "" : allowedUrls).split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .toList();
        return new WebhookSettings(prefixes, secret == null ? "" : secret, maxAttempts, Duration.ofMillis(backoffMs));
    }

    public boolean enabled() {
        return !allowedPrefixes.isEmpty();
    }

    /** Whether a callback URL is an absolute http(s) URL under one of the allowed prefixes. */
    public boolean allows(String url) {
        return refusal(url).isEmpty();
    }

    /**
     * Why a callback URL is refused, as a sentence saying what to do (for the 400 answering a
     * {@value #CALLBACK_HEADER} header), or empty when it is allowed: at most {@value
     * #MAX_URL_LENGTH} characters, a valid absolute http(s) URL with a host, no user info, no
     * {@code ..}, and starting with an allowed prefix.
     */
    public Optional<String> refusal(String url) {
        if (url == null || url.isBlank()) {
            return Optional.of("the URL is empty: give the absolute http(s) URL that should receive the job's events");
        }
        if (url.length() > MAX_URL_LENGTH) {
            return Optional.of("the URL is " + url.length() + " characters long, more than the " + MAX_URL_LENGTH
                    + " allowed: use a shorter URL");
        }
        URI u;
        try {
            u = new URI(url);
        } catch (URISyntaxException e) {
            return Optional.of("the URL is not a valid URL (" + e.getReason() + " at index " + e.getIndex()
                    + "): percent-encode spaces and special characters");
        }
        String scheme = u.getScheme();
        if (scheme == null || !(scheme.equals("http") || scheme.equals("https"))) {
            return Optional.of("the URL has scheme '" + (scheme == null ? "" : scheme)
                    + "': only absolute http:// or https:// URLs receive webhooks");
        }
        if (u.getHost() == null || u.getUserInfo() != null || url.contains("..")) {
            return Optional.of("the URL must name a host and carry no user info and no '..': give a plain"
                    + " http(s)://host[:port]/path URL");
        }
        if (!enabled()) {
            return Optional.of("webhooks are disabled on this gateway (" + ENV_ALLOWED_URLS
                    + " is empty): submit without this header or ask the operator to allow your URL");
        }
        if (allowedPrefixes.stream().noneMatch(url::startsWith)) {
            return Optional.of("the URL is not under an allowed prefix of " + ENV_ALLOWED_URLS
                    + ": use a URL the operator allowed, or ask the operator to add yours");
        }
        return Optional.empty();
    }
}
