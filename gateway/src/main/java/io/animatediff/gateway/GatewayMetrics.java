package io.animatediff.gateway;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Prometheus metrics at {@code /q/metrics}: {@code animatediff_gateway_submissions_total},
 * {@code animatediff_gateway_rejections_total{reason}}, {@code
 * animatediff_gateway_state_view_lag_events}, {@code animatediff_gateway_jobs}.
 */
@Singleton
public class GatewayMetrics {
    private final MeterRegistry registry;
    private final Counter submissions;
    private final Counter replays;
    private final ConcurrentHashMap<String, Counter> rejections = new ConcurrentHashMap<>();

    @Inject
    public GatewayMetrics(MeterRegistry registry, StateViewConsumer stateView, JobStateView view) {
        this.registry = registry;
        this.submissions = Counter.builder("animatediff.gateway.submissions")
                .description("generation jobs accepted and queued")
                .register(registry);
        this.replays = Counter.builder("animatediff.gateway.idempotent.replays")
                .description("submissions answered with an existing job (same Idempotency-Key and body)")
                .register(registry);
        Gauge.builder("animatediff.gateway.state.view.lag", stateView, StateViewConsumer::lag)
                .description("job events on Kafka not yet folded into the state view (-1 before the first check)")
                .baseUnit("events")
                .register(registry);
        Gauge.builder("animatediff.gateway.jobs", view, JobStateView::size)
                .description("jobs known to the state view")
                .register(registry);
    }

    public void submitted(boolean replayed) {
        (replayed ? replays : submissions).increment();
    }

    /** A refused request, by reason (invalid_request, unknown_model, unauthorized, rate_limited, ...). */
    public void rejected(String reason) {
        rejections
                .computeIfAbsent(
                        reason,
                        r -> Counter.builder("animatediff.gateway.rejections")
                                .description("requests refused, by reason")
                                .tag("reason", r)
                                .register(registry))
                .increment();
    }
}
