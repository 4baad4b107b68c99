package io.animatediff.worker;

import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.Failure;
import io.animatediff.common.protocol.GenerationJob;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.trace.JobContext;
import io.animatediff.common.trace.TraceParent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything the worker writes to Kafka, keyed by job id: job events, re-queued attempts and
 * dead letters. One idempotent producer with {@code acks=all}, so records of one job keep their
 * order; {@link #publish} and the re-queue/DLQ methods wait for the acknowledgement (the offset is
 * committed only after that), progress goes out without waiting.
 */
public final class EventPublisher implements AutoCloseable {
    /** DLQ header: {@code <FailureCode>: <reason>}. */
    public static final String FAILURE_HEADER = "animatediff.failure";
    /** DLQ and re-queue header: the attempt that failed. */
    public static final String ATTEMPT_HEADER = "animatediff.attempt";
    /** DLQ and re-queue header: the worker that gave up. */
    public static final String WORKER_HEADER = "animatediff.worker";

    private static final Logger LOG = LoggerFactory.getLogger(EventPublisher.class);
    private static final Duration SEND_TIMEOUT = Duration.ofSeconds(60);

    private final KafkaProducer<String, byte[]> producer;
    private final String workerId;

    public EventPublisher(String bootstrapServers, String workerId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, workerId + "-events");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Long.toString(SEND_TIMEOUT.toMillis()));
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        this.workerId = workerId;
    }

    /** Sends an event and waits until the brokers acknowledged it. */
    public void publish(JobEvent event) {
        send(
                withContext(new ProducerRecord<>(Topics.JOB_EVENTS, event.jobId(), Json.writeBytes(event))),
                event.type() + " event");
    }

    /** Sends an event without waiting (progress); a failure is logged, the terminal event still waits. */
    public void publishAsync(JobEvent event) {
        producer.send(
                withContext(new ProducerRecord<>(Topics.JOB_EVENTS, event.jobId(), Json.writeBytes(event))),
                (meta, error) -> {
                    if (error != null) {
                        LOG.warn(
                                "{} event of job {} was not delivered: {}",
                                event.type(),
                                event.jobId(),
                                error.toString());
                    }
                });
    }

    /** Re-publishes a job for its next attempt (same key, so it stays in its partition). */
    public void requeue(GenerationJob next, Failure previous) {
        RecordHeaders headers = headers(previous, next.attempt() - 1);
        send(
                withContext(new ProducerRecord<>(Topics.GENERATE, null, next.jobId(), Json.writeBytes(next), headers)),
                "attempt " + next.attempt() + " of job");
    }

    /** Sends a message to the DLQ with its failure in the {@value #FAILURE_HEADER} header. */
    public void deadLetter(String key, byte[] value, Failure failure, int attempt) {
        send(
                withContext(new ProducerRecord<>(Topics.GENERATE_DLQ, null, key, value, headers(failure, attempt))),
                "dead letter");
    }

    /** Adds the handled job's trace context and callback ({@link JobContext#current()}) to a record. */
    static ProducerRecord<String, byte[]> withContext(ProducerRecord<String, byte[]> record) {
        JobContext.current().forEach((k, v) -> record.headers().add(k, v.getBytes(StandardCharsets.UTF_8)));
        return record;
    }

    /** The job-context headers a consumed record carried. */
    static Map<String, String> contextHeaders(Headers headers) {
        Map<String, String> out = new HashMap<>();
        for (String name : new String[] {TraceParent.HEADER, JobContext.CALLBACK}) {
            Header h = headers.lastHeader(name);
            if (h != null && h.value() != null) {
                out.put(name, new String(h.value(), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private RecordHeaders headers(Failure failure, int attempt) {
        RecordHeaders h = new RecordHeaders();
        h.add(FAILURE_HEADER, (failure.code() + ": " + failure.reason()).getBytes(StandardCharsets.UTF_8));
        h.add(ATTEMPT_HEADER, Integer.toString(attempt).getBytes(StandardCharsets.UTF_8));
        h.add(WORKER_HEADER, workerId.getBytes(StandardCharsets.UTF_8));
        return h;
    }

    private void send(ProducerRecord<String, byte[]> record, String what) {
        try {
            producer.send(record).get(SEND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PublishException(what + " " + record.key() + " to " + record.topic() + ": interrupted", e);
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            throw new PublishException(
                    what + " " + record.key() + " to " + record.topic() + " was not acknowledged: " + cause
                            + ": check that Kafka is reachable at " + WorkerConfig.ENV_BOOTSTRAP
                            + " (the message stays uncommitted and is processed again)",
                    cause);
        }
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(10));
    }

    /** A record was not acknowledged: the message that led to it must not be committed. */
    public static final class PublishException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        PublishException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
