package io.animatediff.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.trace.TraceParent;
import io.animatediff.local.ComponentException;
import io.animatediff.local.LocalLayout;
import io.animatediff.local.LocalMode;
import io.animatediff.local.LocalSettings;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The gateway's web page end to end in headless Chromium (Debian's {@code chromium} +
 * {@code chromium-driver}, driven by Selenium) against a real local fleet: Kafka, S3Proxy, the
 * packaged gateway and a worker as processes ({@link LocalMode}). A person's path: paste the API
 * key, the model lists fill from {@code GET /v1/models}, submit, watch progress over SSE until
 * SUCCEEDED, see the GIF rendered at the requested size, find the job in the recent-jobs table.
 */
class WebPageBrowserTest {
    static final int FRAMES = 8;
    static final int SIZE = 64;
    static final int STEPS = 6;
    static final Duration JOB_TIMEOUT = Duration.ofSeconds(120);

    @TempDir
    Path state;

    @Test
    void submitWatchProgressAndSeeTheAnimationInChromium() throws Exception {
        Path chromium = executable("chromium");
        Path chromedriver = executable("chromedriver");
        LocalLayout layout = new LocalLayout(Manifests.projectRoot(), state);
        LocalSettings settings = new LocalSettings(
                layout, Optional.empty(), Optional.empty(), true, Duration.ofSeconds(120), 0, null, 1);
        try (LocalMode fleet = LocalMode.start(settings, System.out)) {
            ChromeDriverService service = new ChromeDriverService.Builder()
                    .usingDriverExecutable(chromedriver.toFile())
                    .usingAnyFreePort()
                    .build();
            ChromeOptions options = new ChromeOptions();
            options.setBinary(chromium.toFile());
            options.addArguments(
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--user-data-dir=" + Files.createDirectories(state.resolve("chromium-profile")));
            WebDriver driver = new ChromeDriver(service, options);
            try {
                run(driver, fleet);
            } finally {
                driver.quit();
                service.stop();
            }
        } catch (ComponentException e) {
            throw new AssertionError(e.report(), e);
        }
    }

    private static void run(WebDriver driver, LocalMode fleet) throws Exception {
        driver.get(fleet.gatewayUrl() + "/");
        assertEquals("animatediff-fleet", driver.getTitle(), "the gateway serves the page at /");
        driver.findElement(By.id("api-key")).sendKeys(fleet.apiKey());
        driver.findElement(By.id("connect")).click();
        await(
                driver,
                Duration.ofSeconds(20),
                "model lists filled from GET /v1/models",
                () -> options(driver, "base-model").contains("builtin")
                        && options(driver, "motion-module").contains("builtin"));
        choose(driver, "base-model", "builtin");
        choose(driver, "motion-module", "builtin");
        set(driver, "frames", FRAMES);
        set(driver, "width", SIZE);
        set(driver, "height", SIZE);
        set(driver, "steps", STEPS);
        set(driver, "seed", 7);
        driver.findElement(By.id("submit")).click();

        List<String> seen = new ArrayList<>();
        await(driver, JOB_TIMEOUT, "the job to succeed (statuses seen: " + seen + ")", () -> {
            String error = driver.findElement(By.id("error")).getText();
            if (!error.isEmpty()) {
                fail("the page shows an error: " + error);
            }
            String status = driver.findElement(By.id("status")).getText() + " "
                    + driver.findElement(By.id("progress-text")).getText();
            if (seen.isEmpty() || !seen.get(seen.size() - 1).equals(status)) {
                seen.add(status);
            }
            if (status.startsWith("FAILED") || status.startsWith("CANCELLED")) {
                fail("the job ended " + status + ": "
                        + driver.findElement(By.id("result")).getText());
            }
            return status.startsWith("SUCCEEDED");
        });
        assertEquals(
                "step " + STEPS + " / " + STEPS,
                driver.findElement(By.id("progress-text")).getText());
        int events = Integer.parseInt(driver.findElement(By.id("job-section")).getAttribute("data-events"));
        assertTrue(
                events >= 2,
                "live progress over SSE: at least the first and the terminal event, got " + events + " (statuses seen "
                        + seen + ")");
        String jobId = driver.findElement(By.id("job-id")).getText();
        assertTrue(jobId.length() >= 32, "job id shown: " + jobId);

        WebElement img = driver.findElement(By.id("animation"));
        await(
                driver,
                Duration.ofSeconds(20),
                "the GIF to load from its presigned URL",
                () -> (Boolean) ((JavascriptExecutor) driver)
                        .executeScript("return arguments[0].complete && arguments[0].naturalWidth > 0;", img));
        long width = (Long) ((JavascriptExecutor) driver).executeScript("return arguments[0].naturalWidth;", img);
        long height = (Long) ((JavascriptExecutor) driver).executeScript("return arguments[0].naturalHeight;", img);
        assertEquals(SIZE, width, "GIF width");
        assertEquals(SIZE, height, "GIF height");
        assertTrue(
                driver.findElements(By.cssSelector("a.download")).stream()
                        .anyMatch(a -> a.getText().contains("mp4")),
                "the MP4 download link");

        await(
                driver,
                Duration.ofSeconds(20),
                "the job in the recent-jobs table as SUCCEEDED",
                () -> driver.findElements(By.cssSelector("#job-list tr")).stream()
                        .anyMatch(tr -> jobId.equals(tr.getAttribute("data-job-id"))
                                && tr.getText().contains("SUCCEEDED")));
        System.out.println("statuses seen in the page: " + seen + "; SSE events: " + events);
        oneJobIsOneTrace(fleet, jobId);
    }

    /**
     * Every record of the job (the gateway's job and QUEUED event, the worker's RUNNING, PROGRESS and
     * SUCCEEDED) carries a {@code traceparent} of one trace id; the worker logged it when it took the job.
     */
    private static void oneJobIsOneTrace(LocalMode fleet, String jobId) throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, fleet.kafkaBootstrap());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        Map<String, String> traceByRecord = new LinkedHashMap<>();
        try (KafkaConsumer<String, byte[]> c =
                new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            for (String topic : List.of(Topics.GENERATE, Topics.JOB_EVENTS)) {
                c.partitionsFor(topic).forEach(i -> parts.add(new TopicPartition(topic, i.partition())));
            }
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    if (jobId.equals(r.key())) {
                        Header h = r.headers().lastHeader(TraceParent.HEADER);
                        String type = r.topic().equals(Topics.GENERATE)
                                ? "job"
                                : Json.read(r.value(), JobEvent.class).type().name();
                        traceByRecord.put(
                                r.topic() + "@" + r.offset() + " " + type,
                                h == null ? "none" : new String(h.value(), StandardCharsets.UTF_8));
                    }
                }
            }
        }
        assertTrue(traceByRecord.keySet().stream().anyMatch(k -> k.endsWith(" job")), "records " + traceByRecord);
        assertTrue(traceByRecord.keySet().stream().anyMatch(k -> k.endsWith("QUEUED")), "records " + traceByRecord);
        assertTrue(traceByRecord.keySet().stream().anyMatch(k -> k.endsWith("SUCCEEDED")), "records " + traceByRecord);
        Set<String> traceIds = new HashSet<>();
        for (String header : traceByRecord.values()) {
            traceIds.add(TraceParent.parse(header)
                    .orElseThrow(() -> new AssertionError("a record without a valid traceparent: " + traceByRecord))
                    .traceId());
        }
        assertEquals(1, traceIds.size(), "one job, one trace: " + traceByRecord);
        String workerLog = Files.readString(fleet.log(LocalMode.WORKER));
        assertTrue(workerLog.contains(traceIds.iterator().next()), "the worker logs the job's trace id");
    }

    private static List<String> options(WebDriver driver, String selectId) {
        return driver.findElements(By.cssSelector("#" + selectId + " option")).stream()
                .map(WebElement::getText)
                .toList();
    }

    private static void choose(WebDriver driver, String selectId, String text) {
        driver.findElements(By.cssSelector("#" + selectId + " option")).stream()
                .filter(o -> o.getText().equals(text))
                .findFirst()
                .orElseThrow()
                .click();
        assertEquals(text, driver.findElement(By.id(selectId)).getDomProperty("value"), selectId);
    }

    private static void set(WebDriver driver, String id, int value) {
        WebElement e = driver.findElement(By.id(id));
        e.clear();
        e.sendKeys(Integer.toString(value));
    }

    @FunctionalInterface
    interface Condition {
        boolean holds();
    }

    private static void await(WebDriver driver, Duration timeout, String what, Condition condition)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.holds()) {
                return;
            }
            Thread.sleep(100);
        }
        fail("timed out after " + timeout + " waiting for " + what + "; page text:\n"
                + driver.findElement(By.tagName("body")).getText());
    }

    /** A program on PATH (or /usr/bin), else a failure saying how to install it: never a silent pass. */
    static Path executable(String name) {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/bin:/usr/lib/chromium";
        Optional<Path> found = Stream.of(path.split(":"))
                .filter(s -> !s.isEmpty())
                .map(dir -> Path.of(dir, name))
                .filter(Files::isExecutable)
                .findFirst();
        if (found.isEmpty()) {
            fail(name + " is not installed: the browser test needs Debian's chromium and chromium-driver."
                    + " Install them with 'sudo apt-get install -y chromium chromium-driver' (the build does this"
                    + " itself when run as root: deploy/scripts/install-chromium.sh), then rerun.");
        }
        return found.get();
    }
}
