package io.animatediff.gateway;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** Measures {@link QueueLag} every 15 s in the background; the gauge reads the last value (-1 before). */
@ApplicationScoped
public class QueueLagMetrics {
    @Inject
    KafkaConfig kafka;

    @Inject
    MeterRegistry registry;

    private final AtomicLong lag = new AtomicLong(-1);
    private ScheduledExecutorService timer;
    private QueueLag queueLag;

    void onStart(@Observes StartupEvent event) {
        queueLag = new QueueLag(kafka.bootstrapServers());
        Gauge.builder("animatediff.gateway.queue.lag", lag, AtomicLong::get)
                .description("generation jobs on Kafka not yet committed by the workers group (-1: unknown)")
                .baseUnit("jobs")
                .register(registry);
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "queue-lag");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> lag.set(queueLag.measure(Duration.ofSeconds(10))), 0, 15, TimeUnit.SECONDS);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (timer != null) {
            timer.shutdownNow();
            queueLag.close();
        }
    }
}
