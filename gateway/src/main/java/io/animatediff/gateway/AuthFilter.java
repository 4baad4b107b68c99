package io.animatediff.gateway;

import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import java.util.List;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * Every {@code /v1} request: a valid bearer key (401 otherwise) within its rate limit (429 with
 * {@code Retry-After} otherwise). Health, metrics and OpenAPI under {@code /q} are not resources
 * and stay open.
 */
public class AuthFilter {
    // resolved per request: filters are built at startup, before runtime configuration exists
    @Inject
    Instance<ApiKeys> keysInstance;

    @Inject
    Instance<RateLimiter> limiterInstance;

    @Inject
    Instance<Caller> callerInstance;

    @Inject
    Instance<GatewayMetrics> metricsInstance;

    @ServerRequestFilter
    public Response authenticate(ContainerRequestContext ctx) {
        String path = ctx.getUriInfo().getPath();
        if (!path.startsWith("/v1")) {
            return null;
        }
        ApiKeys keys = keysInstance.get();
        GatewayMetrics metrics = metricsInstance.get();
        var hash = keys.authenticate(ctx.getHeaderString(HttpHeaders.AUTHORIZATION));
        if (hash.isEmpty()) {
            String detail = keys.isEmpty()
                    ? "this gateway accepts no API key yet: set ANIMATEDIFF_API_KEY_HASHES to the sha256 of your keys"
                    : "send a valid API key as 'Authorization: Bearer <key>'";
            return Problems.response(
                    metrics,
                    new ProblemException(
                            "unauthorized",
                            Problem.of(401, "unauthorized", "Unauthorized", detail, List.of()),
                            java.util.Map.of(HttpHeaders.WWW_AUTHENTICATE, "Bearer")));
        }
        long wait = limiterInstance.get().tryAcquire(hash.get());
        if (wait > 0) {
            long seconds = RateLimiter.retryAfterSeconds(wait);
            return Problems.response(
                    metrics,
                    new ProblemException(
                            "rate_limited",
                            Problem.of(
                                    429,
                                    "rate-limited",
                                    "Too many requests",
                                    "this API key exceeded its rate limit: retry after " + seconds + " s",
                                    List.of()),
                            java.util.Map.of(HttpHeaders.RETRY_AFTER, Long.toString(seconds))));
        }
        callerInstance.get().set(hash.get());
        return null;
    }
}
