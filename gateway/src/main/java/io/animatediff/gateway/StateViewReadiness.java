package io.animatediff.gateway;

import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready once Kafka answered recently and the state view folded every event that existed at startup. */
@Readiness
public class StateViewReadiness implements HealthCheck {
    @Inject
    StateViewConsumer stateView;

    @Inject
    GatewayConfig config;

    @Inject
    Clock clock;

    @Override
    public HealthCheckResponse call() {
        Duration since = Duration.between(stateView.lastContact(), clock.instant());
        boolean reachable = since.compareTo(config.stateView().unreachableAfter()) <= 0;
        return HealthCheckResponse.named("kafka-state-view")
                .status(reachable && stateView.caughtUp())
                .withData("kafka_reachable", reachable)
                .withData("caught_up", stateView.caughtUp())
                .withData("lag_events", stateView.lag())
                .withData("events_folded", stateView.appliedEvents())
                .build();
    }
}
