package io.animatediff.gateway;

import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready once the webhook dispatcher (when webhooks are enabled) owns its partitions: a brand-new
 * {@code gateway-webhooks} group starts at the end of the event topic, so a job accepted before the
 * dispatcher resolved its offsets could miss its first events.
 */
@Readiness
public class WebhookReadiness implements HealthCheck {
    @Inject
    WebhookStartup webhooks;

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("webhook-dispatcher")
                .status(webhooks.dispatcherReady())
                .withData("enabled", webhooks.settings().enabled())
                .build();
    }
}
