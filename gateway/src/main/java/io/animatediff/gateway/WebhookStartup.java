package io.animatediff.gateway;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

/**
 * Starts the {@link WebhookDispatcher} when {@code ANIMATEDIFF_WEBHOOK_ALLOWED_URLS} allows any
 * callback (settings from {@link GatewayConfig.Webhook}), and exports {@code animatediff_gateway_webhooks_total{outcome=delivered|retried|failed}}.
 */
@ApplicationScoped
public class WebhookStartup {
    private static final Logger LOG = Logger.getLogger(WebhookStartup.class);

    @Inject
    KafkaConfig kafka;

    @Inject
    MeterRegistry registry;

    @Inject
    GatewayConfig config;

    private WebhookSettings settings;
    private volatile WebhookDispatcher dispatcher;

    @PostConstruct
    void init() {
        GatewayConfig.Webhook w = config.webhook();
        settings = WebhookSettings.parse(
                w.allowedUrls().orElse(""), w.secret().orElse(""), w.maxAttempts(), w.backoffMs());
    }

    /** Whether the dispatcher, when webhooks are enabled, has been given its partitions (readiness). */
    public boolean dispatcherReady() {
        WebhookDispatcher d = dispatcher;
        return !settings.enabled() || (d != null && d.isAssigned());
    }

    /** The settings submissions are checked against. */
    public WebhookSettings settings() {
        return settings;
    }

    void onStart(@Observes StartupEvent event) {
        if (!settings.enabled()) {
            return;
        }
        dispatcher = new WebhookDispatcher(kafka.bootstrapServers(), settings).start();
        WebhookDispatcher d = dispatcher;
        FunctionCounter.builder("animatediff.gateway.webhooks", d, WebhookDispatcher::delivered)
                .tag("outcome", "delivered")
                .register(registry);
        FunctionCounter.builder("animatediff.gateway.webhooks", d, WebhookDispatcher::retries)
                .tag("outcome", "retried")
                .register(registry);
        FunctionCounter.builder("animatediff.gateway.webhooks", d, WebhookDispatcher::failed)
                .tag("outcome", "failed")
                .register(registry);
        LOG.infof("webhooks enabled for %s", settings.allowedPrefixes());
    }

    void onStop(@Observes ShutdownEvent event) {
        if (dispatcher != null) {
            dispatcher.close();
        }
    }
}
