package io.animatediff.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.ObjectStoreException;
import io.animatediff.common.store.ObjectSummary;
import io.animatediff.common.store.StoreConfig;
import io.animatediff.worker.BuiltinModels;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The delivery checker: submits tiny jobs over HTTP as a stream (a bounded backlog, so faults hit
 * jobs in flight and submissions alike), runs scheduled faults when a share of the jobs has ended,
 * then checks that every job reached exactly one terminal state with its results present exactly
 * once:
 *
 * <ul>
 *   <li>lost: a job never accepted, never terminal before the deadline, or SUCCEEDED with a result
 *       object missing from the store;
 *   <li>duplicated: one submission accepted as two jobs, a job whose terminal state changed after
 *       the client first saw it, more than one distinct terminal outcome (status, result keys and
 *       sha256) on {@code animatediff.job-events}, or objects under {@code results/<id>/} that the
 *       job does not report (a second result set).
 * </ul>
 *
 * Submissions carry an {@code Idempotency-Key} and are retried on 5xx, 429 (after its {@code
 * Retry-After}) and connection errors, as a careful client would.
 */
public final class DeliveryCheck {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> TERMINAL = Set.of("SUCCEEDED", "FAILED", "CANCELLED");

    /** A fault run once {@code atFraction} of the jobs has ended. */
    public record ScheduledFault(String name, double atFraction, Action action) {}

    /** What a fault does. */
    @FunctionalInterface
    public interface Action {
        void run() throws Exception;
    }

    /** The checker's figures. */
    public record Counts(int submitted, int succeeded, int failed, int lost, int duplicated) {
        public String line() {
            return "submitted=" + submitted + " succeeded=" + succeeded + " failed=" + failed + " lost=" + lost
                    + " duplicated=" + duplicated;
        }

        public boolean perfect() {
            return succeeded == submitted && lost == 0 && duplicated == 0;
        }
    }

    private final String gatewayUrl;
    private final String apiKey;
    private final String kafkaBootstrap;
    private final StoreConfig store;
    private final PrintStream out;
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String runId = UUID.randomUUID().toString().substring(0, 8);

    public DeliveryCheck(String gatewayUrl, String apiKey, String kafkaBootstrap, StoreConfig store, PrintStream out) {
        this.gatewayUrl = gatewayUrl;
        this.apiKey = apiKey;
        this.kafkaBootstrap = kafkaBootstrap;
        this.store = store;
        this.out = out;
    }

    /** The tiny job number {@code i}: 64x64, 8 frames, 2 steps, a GIF, seed {@code i}. */
    public static ObjectNode tinyJob(int i) {
        ObjectNode body = JSON.createObjectNode();
        body.put("prompt", "delivery check " + i);
        body.put("base_model", BuiltinModels.NAME);
        body.put("motion_module", BuiltinModels.NAME);
        body.put("num_frames", 8);
        body.put("width", 64);
        body.put("height", 64);
        body.put("num_inference_steps", 2);
        body.put("seed", i);
        body.putArray("output_formats").add("gif");
        return body;
    }

    /**
     * Submits {@code jobs} jobs keeping at most {@code backlog} unfinished, runs {@code faults} in
     * order on their own thread, waits up to {@code timeout} for every job, then checks.
     */
    public Counts run(int jobs, int backlog, List<ScheduledFault> faults, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<Integer, String> ids = new ConcurrentHashMap<>();
        Map<String, JsonNode> firstTerminal = new ConcurrentHashMap<>();
        AtomicInteger duplicates = new AtomicInteger();
        AtomicInteger rejected = new AtomicInteger();
        Thread faultThread = new Thread(
                () -> {
                    for (ScheduledFault f : faults) {
                        while (firstTerminal.size() < Math.ceil(f.atFraction() * jobs)) {
                            if (System.nanoTime() > deadline) {
                                out.println("fault    " + f.name() + " not run: deadline");
                                return;
                            }
                            sleep(200);
                        }
                        out.println("fault    " + f.name() + " at " + firstTerminal.size() + "/" + jobs + " ended");
                        try {
                            f.action().run();
                        } catch (Exception e) {
                            out.println("fault    " + f.name() + " failed: " + e);
                        }
                    }
                },
                "delivery-faults");
        faultThread.setDaemon(true);
        faultThread.start();
        Thread submitter = new Thread(
                () -> {
                    for (int i = 0; i < jobs && System.nanoTime() < deadline; i++) {
                        while (ids.size() - firstTerminal.size() >= backlog && System.nanoTime() < deadline) {
                            sleep(100);
                        }
                        String id = submit(i, deadline);
                        if (id == null) {
                            rejected.incrementAndGet();
                        } else if (ids.containsValue(id)) {
                            out.println("check    submission " + i + " got job " + id + " of another submission");
                            duplicates.incrementAndGet();
                        } else {
                            ids.put(i, id);
                        }
                    }
                },
                "delivery-submitter");
        submitter.setDaemon(true);
        submitter.start();
        long lastReport = 0;
        while (System.nanoTime() < deadline) {
            for (String id : List.copyOf(ids.values())) {
                if (firstTerminal.containsKey(id)) {
                    continue;
                }
                JsonNode v = view(id);
                if (v != null && TERMINAL.contains(v.path("status").asText())) {
                    firstTerminal.put(id, v);
                }
            }
            if (!submitter.isAlive() && firstTerminal.size() >= ids.size()) {
                break;
            }
            if (System.nanoTime() - lastReport > 10_000_000_000L) {
                lastReport = System.nanoTime();
                out.println("progress " + ids.size() + " submitted, " + firstTerminal.size() + " ended");
            }
            Thread.sleep(300);
        }
        submitter.join(1000);
        faultThread.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
        return check(jobs, ids, firstTerminal, duplicates.get());
    }

    private Counts check(int jobs, Map<Integer, String> ids, Map<String, JsonNode> firstTerminal, int dupSubmissions) {
        Map<String, Set<String>> outcomes = terminalOutcomes(new HashSet<>(ids.values()));
        int succeeded = 0;
        int failed = 0;
        int lost = jobs - ids.size();
        int duplicated = dupSubmissions;
        try (ObjectStore objects = new ObjectStore(store)) {
            for (String id : ids.values()) {
                JsonNode first = firstTerminal.get(id);
                if (first == null) {
                    JsonNode now = view(id);
                    out.println("check    job " + id + " lost: last status "
                            + (now == null ? "unknown" : now.path("status").asText()));
                    lost++;
                    continue;
                }
                JsonNode last = view(id);
                String status = first.path("status").asText();
                boolean dup = false;
                if (last == null || !signature(last).equals(signature(first))) {
                    out.println("check    job " + id + " changed after its terminal state: " + signature(first)
                            + " then " + (last == null ? "unknown" : signature(last)));
                    dup = true;
                }
                Set<String> seen = outcomes.getOrDefault(id, Set.of());
                if (seen.size() > 1) {
                    out.println("check    job " + id + " has " + seen.size() + " distinct terminal events: " + seen);
                    dup = true;
                }
                Set<String> reported = new TreeSet<>();
                first.path("results").forEach(r -> reported.add(r.path("key").asText()));
                Set<String> stored;
                try {
                    stored = objects.list("results/" + id + "/").stream()
                            .map(ObjectSummary::key)
                            .collect(Collectors.toCollection(TreeSet::new));
                } catch (ObjectStoreException e) {
                    out.println("check    cannot list results of " + id + ": " + e.getMessage());
                    stored = Set.of();
                }
                boolean missing = !stored.containsAll(reported);
                Set<String> extra = new TreeSet<>(stored);
                extra.removeAll(reported);
                if (!extra.isEmpty()) {
                    out.println("check    job " + id + " has objects it does not report: " + extra);
                    dup = true;
                }
                if (!missing && "SUCCEEDED".equals(status)) {
                    for (JsonNode r : first.path("results")) {
                        String sha = objects.computeSha256(r.path("key").asText());
                        if (!sha.equals(r.path("sha256").asText())) {
                            out.println("check    job " + id + " object "
                                    + r.path("key").asText() + " does not match its reported sha256");
                            dup = true;
                        }
                    }
                }
                if (dup) {
                    duplicated++;
                } else if ("SUCCEEDED".equals(status) && (missing || reported.isEmpty())) {
                    out.println("check    job " + id + " SUCCEEDED but results are missing: reported " + reported
                            + ", stored " + stored);
                    lost++;
                } else if ("SUCCEEDED".equals(status)) {
                    succeeded++;
                } else {
                    out.println("check    job " + id + " ended " + status + ": " + first.path("failure"));
                    failed++;
                }
            }
        }
        return new Counts(jobs, succeeded, failed, lost, duplicated);
    }

    /** Status plus result keys and sha256: what the client sees of a terminal state. */
    private static String signature(JsonNode v) {
        List<String> r = new ArrayList<>();
        v.path("results")
                .forEach(x ->
                        r.add(x.path("key").asText() + ":" + x.path("sha256").asText()));
        r.sort(null);
        return v.path("status").asText() + r;
    }

    /** Distinct terminal outcomes per job on the job-events topic. */
    private Map<String, Set<String>> terminalOutcomes(Set<String> jobs) {
        Map<String, Set<String>> out = new HashMap<>();
        readEvents(kafkaBootstrap, jobs).forEach((id, events) -> {
            for (JobEvent e : events) {
                if (e.type() == JobEventType.SUCCEEDED
                        || e.type() == JobEventType.FAILED
                        || e.type() == JobEventType.CANCELLED) {
                    List<String> res = new ArrayList<>();
                    if (e.results() != null) {
                        for (ResultObject o : e.results()) {
                            res.add(o.key() + ":" + o.sha256());
                        }
                    }
                    res.sort(null);
                    out.computeIfAbsent(id, k -> new TreeSet<>()).add(e.type() + res.toString());
                }
            }
        });
        return out;
    }

    /** Every event of {@code jobs} on {@code animatediff.job-events}, in topic order per job. */
    public static Map<String, List<JobEvent>> readEvents(String kafkaBootstrap, Set<String> jobs) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        Map<String, List<JobEvent>> out = new HashMap<>();
        try (KafkaConsumer<String, byte[]> c =
                new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(Topics.JOB_EVENTS, Duration.ofSeconds(30))) {
                parts.add(new TopicPartition(pi.topic(), pi.partition()));
            }
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(500))) {
                    if (r.value() != null && jobs.contains(r.key())) {
                        out.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(Json.read(r.value(), JobEvent.class));
                    }
                }
            }
        }
        return out;
    }

    /** Submits job {@code i}, retrying transient failures with the same Idempotency-Key; null when refused. */
    private String submit(int i, long deadline) {
        String body = tinyJob(i).toString();
        long backoff = 250;
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> res = http.send(
                        request("/v1/animations")
                                .header("Content-Type", "application/json")
                                .header("Idempotency-Key", "verify-" + runId + "-" + i)
                                .POST(HttpRequest.BodyPublishers.ofString(body))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                int s = res.statusCode();
                if (s == 202 || s == 200) {
                    return JSON.readTree(res.body()).path("job_id").asText();
                }
                if (s == 429) {
                    long wait = res.headers().firstValueAsLong("Retry-After").orElse(1);
                    sleep(wait * 1000);
                    continue;
                }
                if (s < 500) {
                    out.println("submit   job " + i + " refused with " + s + ": " + res.body());
                    return null;
                }
            } catch (IOException e) {
                // gateway busy or restarting: retry
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
            sleep(backoff);
            backoff = Math.min(5000, backoff * 2);
        }
        return null;
    }

    private JsonNode view(String id) {
        try {
            HttpResponse<String> res =
                    http.send(request("/v1/jobs/" + id).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (res.statusCode() == 429) {
                sleep(1000);
                return null;
            }
            return res.statusCode() == 200 ? JSON.readTree(res.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(gatewayUrl + path))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + apiKey);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
