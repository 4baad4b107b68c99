package io.animatediff.gateway;

import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.trace.JobContext;
import io.animatediff.common.trace.TraceParent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.jboss.logging.Logger;

/**
 * Delivers job events to the callback URL their job named: one consumer in group {@value #GROUP}
 * over {@code animatediff.job-events} (so each event is delivered by one gateway replica), the URL
 * from the record's {@value JobContext#CALLBACK} header (the gateway set it on the job, workers copy
 * it onto every event). Each delivery is a signed POST ({@link WebhookSigner}) retried with
 * exponential backoff; offsets are committed only after the batch was delivered or given up on, so
 * delivery is at least once (receivers dedupe on {@code Webhook-Id}). Progress events are not sent.
 */
public final class WebhookDispatcher implements AutoCloseable {
    public static final String GROUP = "gateway-webhooks";
    private static final Logger LOG = Logger.getLogger(WebhookDispatcher.class);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(60);

    private final WebhookSettings settings;
    private final WebhookSigner signer;
    private final HttpClient http;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Thread thread;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final CountDownLatch assigned = new CountDownLatch(1);
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();

    public WebhookDispatcher(String bootstrapServers, WebhookSettings settings) {
        this.settings = settings;
        this.signer = new WebhookSigner(settings.secret());
        this.http = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(5))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, GROUP);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // a new group starts at the end: deploying webhooks does not replay the compacted history
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 50);
        p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 900_000);
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.thread = new Thread(this::loop, "webhook-dispatcher");
        this.thread.setDaemon(true);
    }

    public WebhookDispatcher start() {
        thread.start();
        return this;
    }

    /** Waits until the consumer owns its partitions (tests; readiness). */
    public boolean awaitAssigned(Duration timeout) throws InterruptedException {
        return assigned.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Whether the consumer has joined its group and resolved its starting offsets. */
    public boolean isAssigned() {
        return assigned.getCount() == 0;
    }

    public long delivered() {
        return delivered.get();
    }

    public long retries() {
        return retries.get();
    }

    public long failed() {
        return failed.get();
    }

    private void loop() {
        try {
            consumer.subscribe(List.of(Topics.JOB_EVENTS), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(java.util.Collection<TopicPartition> partitions) {}

                @Override
                public void onPartitionsAssigned(java.util.Collection<TopicPartition> partitions) {
                    // resolve the starting offsets now: a new group's "latest" would otherwise be
                    // looked up lazily and skip events written between assignment and first fetch
                    partitions.forEach(consumer::position);
                    assigned.countDown();
                }
            });
            while (running.get()) {
                var records = consumer.poll(Duration.ofMillis(500));
                for (ConsumerRecord<String, byte[]> r : records) {
                    if (!running.get()) {
                        return; // uncommitted: redelivered to whoever owns the partition next
                    }
                    handle(r);
                }
                if (!records.isEmpty()) {
                    try {
                        consumer.commitSync();
                    } catch (org.apache.kafka.common.errors.RetriableException
                            | org.apache.kafka.clients.consumer.CommitFailedException e) {
                        // a rebalance took the partitions: the new owner redelivers from the last
                        // commit (at least once); this consumer keeps going with what it is given
                        LOG.warnf("webhook offsets not committed (%s): events will be redelivered", e);
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.errorf(e, "webhook dispatcher stopped: %s", e.getMessage());
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private void handle(ConsumerRecord<String, byte[]> r) throws InterruptedException {
        String callback = header(r, JobContext.CALLBACK);
        if (callback == null) {
            return;
        }
        JobEvent event;
        try {
            event = Json.read(r.value(), JobEvent.class);
        } catch (RuntimeException e) {
            LOG.warnf("job event %s-%d@%d is unreadable, no webhook: %s", r.topic(), r.partition(), r.offset(), e);
            return;
        }
        if (event.type() == JobEventType.PROGRESS) {
            return;
        }
        if (!settings.allows(callback)) {
            LOG.warnf(
                    "job %s names callback %s outside %s: not delivered",
                    event.jobId(), callback, WebhookSettings.ENV_ALLOWED_URLS);
            failed.incrementAndGet();
            return;
        }
        String id = event.jobId() + ":" + r.partition() + ":" + r.offset();
        String trace =
                TraceParent.continueOrStart(header(r, TraceParent.HEADER)).header();
        Duration delay = settings.backoff();
        for (int attempt = 1; attempt <= settings.maxAttempts() && running.get(); attempt++) {
            long ts = System.currentTimeMillis() / 1000;
            HttpRequest request = HttpRequest.newBuilder(URI.create(callback))
                    .timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/json")
                    .header("User-Agent", "animatediff-gateway-webhooks")
                    .header(WebhookSigner.ID_HEADER, id)
                    .header(WebhookSigner.TIMESTAMP_HEADER, Long.toString(ts))
                    .header(WebhookSigner.SIGNATURE_HEADER, signer.sign(id, ts, r.value()))
                    .header(TraceParent.HEADER, trace)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(r.value()))
                    .build();
            String outcome;
            try {
                HttpResponse<Void> res = http.send(request, HttpResponse.BodyHandlers.discarding());
                if (res.statusCode() / 100 == 2) {
                    delivered.incrementAndGet();
                    LOG.debugf(
                            "webhook %s %s -> %s (%d) traceparent %s",
                            id, event.type(), callback, res.statusCode(), trace);
                    return;
                }
                outcome = "HTTP " + res.statusCode();
            } catch (java.io.IOException e) {
                outcome = e.toString();
            }
            if (attempt == settings.maxAttempts()) {
                failed.incrementAndGet();
                LOG.errorf(
                        "webhook %s (%s of job %s) to %s failed %d times, last %s: given up",
                        id, event.type(), event.jobId(), callback, attempt, outcome);
                return;
            }
            retries.incrementAndGet();
            LOG.infof("webhook %s to %s: %s, retry %d in %s", id, callback, outcome, attempt, delay);
            Thread.sleep(delay.toMillis());
            delay = delay.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : delay.multipliedBy(2);
        }
    }

    private static String header(ConsumerRecord<String, byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        running.set(false);
        consumer.wakeup();
        try {
            thread.join(15_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
