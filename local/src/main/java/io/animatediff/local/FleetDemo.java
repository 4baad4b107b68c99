package io.animatediff.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.animatediff.common.store.Sha256;
import io.animatediff.engine.media.GifReader;
import io.animatediff.engine.world.MiniWorld;
import io.animatediff.engine.world.WorldMetrics;
import io.animatediff.engine.world.WorldModels;
import io.animatediff.worker.BuiltinModels;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * The sample job over HTTP, as a product backend would send it: {@code POST /v1/animations} with
 * the miniature world's trained models (the personalized model with the motion module trained on the
 * base domain only: the paper's claim), progress followed over Server-Sent Events (polling
 * {@code GET /v1/jobs/<id>} when the stream is unavailable), the results downloaded by their
 * presigned URLs, the GIF's frame count checked and what it shows read back ({@link WorldMetrics}).
 * Builds without trained models fall back to the seeded {@code builtin} model.
 */
public final class FleetDemo {
    public static final String PROMPT = "a red circle moving right";
    public static final int FRAMES = WorldModels.FRAMES;
    public static final int SIZE = WorldModels.SIZE;
    /** How long the job may take end to end. */
    public static final Duration JOB_TIMEOUT = Duration.ofMinutes(15);

    private static final Set<String> TERMINAL = Set.of("SUCCEEDED", "FAILED", "CANCELLED");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String gatewayUrl;
    private final String apiKey;
    private final Path gatewayLog;
    private final Path workerLog;
    private final PrintStream out;
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private String lastProgress = "";

    public FleetDemo(String gatewayUrl, String apiKey, Path gatewayLog, Path workerLog, PrintStream out) {
        this.gatewayUrl = gatewayUrl;
        this.apiKey = apiKey;
        this.gatewayLog = gatewayLog;
        this.workerLog = workerLog;
        this.out = out;
    }

    /** What the demo produced. */
    public record Result(String jobId, List<Path> files, Path gif, int gifFrames) {}

    /** The sample request body (diffusers parameter names). */
    public static ObjectNode sampleRequest() {
        ObjectNode body = JSON.createObjectNode();
        body.put("prompt", PROMPT);
        boolean world = WorldModels.available();
        body.put("base_model", world ? WorldModels.PERSONALIZED : BuiltinModels.NAME);
        body.put("motion_module", world ? WorldModels.MOTION : BuiltinModels.NAME);
        body.put("num_frames", FRAMES);
        body.put("width", SIZE);
        body.put("height", SIZE);
        body.put("num_inference_steps", 25);
        body.put("guidance_scale", 4.0);
        body.put("seed", 42);
        body.putArray("output_formats").add("gif").add("mp4");
        return body;
    }

    /** Submits, follows, downloads into {@code outDir} and verifies. */
    public Result run(Path outDir) throws ComponentException {
        String jobId = submit();
        out.println("job      " + jobId + " queued");
        JsonNode view = follow(jobId);
        String status = view.path("status").asText();
        if (!"SUCCEEDED".equals(status)) {
            JsonNode failure = view.path("failure");
            throw new ComponentException(
                    LocalMode.WORKER,
                    "ended job " + jobId + " with " + status
                            + (failure.isMissingNode() || failure.isNull()
                                    ? ""
                                    : ": " + failure.path("code").asText() + " "
                                            + failure.path("reason").asText()),
                    workerLog);
        }
        List<Path> files = download(view, outDir);
        Path gif = files.stream()
                .filter(f -> f.getFileName().toString().endsWith(".gif"))
                .findFirst()
                .orElseThrow(() -> new IllegalStateException("job " + jobId + " has no GIF result: " + view));
        int frames = gifFrames(gif);
        if (frames != FRAMES) {
            throw new ComponentException(
                    LocalMode.WORKER,
                    "wrote " + gif + " with " + frames + " frames, " + FRAMES + " requested",
                    workerLog);
        }
        out.println("verified " + gif + ": a GIF of " + frames + " frames");
        if (WorldModels.available()) {
            out.println("reads as " + describe(gif) + " (prompted: " + PROMPT + ")");
        }
        return new Result(jobId, files, gif, frames);
    }

    /** What {@link WorldMetrics} sees in the GIF: colour, shape, direction and domain. */
    static String describe(Path gif) {
        try {
            WorldMetrics.ClipReading r = WorldMetrics.read(GifReader.read(gif));
            if (!r.objectFound()) {
                return "no object found";
            }
            String motion = r.direction() == null
                    ? "moving incoherently"
                    : r.direction() == MiniWorld.Direction.STILL
                            ? "standing still"
                            : "moving " + r.direction().name().toLowerCase(Locale.ROOT);
            return "a " + r.colour().name().toLowerCase(Locale.ROOT) + " "
                    + r.shape().name().toLowerCase(Locale.ROOT) + " " + motion + ", "
                    + WorldMetrics.domain(r).name().toLowerCase(Locale.ROOT) + " domain";
        } catch (IOException | RuntimeException e) {
            return "unreadable (" + e.getMessage() + ")";
        }
    }

    private String submit() throws ComponentException {
        String body = sampleRequest().toString();
        HttpResponse<String> res = send(
                request("/v1/animations")
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                "POST /v1/animations");
        if (res.statusCode() != 202) {
            throw new ComponentException(
                    LocalMode.GATEWAY,
                    "answered POST /v1/animations with " + res.statusCode() + " (202 expected): " + res.body(),
                    gatewayLog);
        }
        String id = parse(res.body(), "POST /v1/animations").path("job_id").asText("");
        if (id.isEmpty()) {
            throw new ComponentException(
                    LocalMode.GATEWAY, "answered POST /v1/animations without a job_id: " + res.body(), gatewayLog);
        }
        return id;
    }

    /** Follows the job to a terminal state; returns its final view from {@code GET /v1/jobs/<id>}. */
    private JsonNode follow(String jobId) throws ComponentException {
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        try {
            followEvents(jobId, deadline);
        } catch (IOException e) {
            out.println("events   stream unavailable (" + e.getMessage() + "), polling instead");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ComponentException(LocalMode.GATEWAY, "interrupted while following job " + jobId, gatewayLog);
        }
        while (true) {
            JsonNode view = jobView(jobId);
            printProgress(view);
            if (TERMINAL.contains(view.path("status").asText())) {
                return view;
            }
            if (System.nanoTime() > deadline) {
                throw new ComponentException(
                        LocalMode.WORKER,
                        "did not finish job " + jobId + " within " + JOB_TIMEOUT.toMinutes() + " min (last status "
                                + view.path("status").asText() + ")",
                        workerLog);
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ComponentException(LocalMode.GATEWAY, "interrupted while polling job " + jobId, gatewayLog);
            }
        }
    }

    /** Reads the SSE stream until a terminal event or its end. */
    private void followEvents(String jobId, long deadline) throws IOException, InterruptedException {
        long remaining = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
        HttpRequest req = request("/v1/jobs/" + jobId + "/events")
                .header("Accept", "text/event-stream")
                .timeout(Duration.ofMillis(remaining))
                .GET()
                .build();
        HttpResponse<Stream<String>> res = http.send(req, HttpResponse.BodyHandlers.ofLines());
        if (res.statusCode() != 200) {
            res.body().close();
            throw new IOException("GET /v1/jobs/" + jobId + "/events answered " + res.statusCode());
        }
        try (Stream<String> lines = res.body()) {
            Iterator<String> it = lines.iterator();
            StringBuilder data = new StringBuilder();
            while (it.hasNext()) {
                String line = it.next();
                if (line.startsWith("data:")) {
                    data.append(line.substring(5).strip());
                } else if (line.isEmpty() && data.length() > 0) {
                    JsonNode view;
                    try {
                        view = JSON.readTree(data.toString());
                    } catch (IOException e) {
                        view = null;
                    }
                    data.setLength(0);
                    if (view != null) {
                        printProgress(view);
                        if (TERMINAL.contains(view.path("status").asText())) {
                            return;
                        }
                    }
                }
            }
        }
    }

    private void printProgress(JsonNode view) {
        String status = view.path("status").asText();
        JsonNode p = view.path("progress");
        String line = status;
        if (p.has("step") && p.has("total") && p.path("total").asInt() > 0) {
            line += " step " + p.path("step").asInt() + "/" + p.path("total").asInt();
        }
        if (!line.equals(lastProgress)) {
            lastProgress = line;
            out.println("progress " + line);
        }
    }

    private JsonNode jobView(String jobId) throws ComponentException {
        HttpResponse<String> res = send(request("/v1/jobs/" + jobId).GET().build(), "GET /v1/jobs/" + jobId);
        if (res.statusCode() != 200) {
            throw new ComponentException(
                    LocalMode.GATEWAY,
                    "answered GET /v1/jobs/" + jobId + " with " + res.statusCode() + ": " + res.body(),
                    gatewayLog);
        }
        return parse(res.body(), "GET /v1/jobs/" + jobId);
    }

    /** Downloads every result with a URL into {@code outDir}, checking size and sha256 when given. */
    private List<Path> download(JsonNode view, Path outDir) throws ComponentException {
        List<Path> files = new ArrayList<>();
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new ComponentException("demo", "cannot create " + outDir + ": " + e.getMessage(), null);
        }
        for (JsonNode r : view.path("results")) {
            String url = r.path("url").asText("");
            String key = r.path("key").asText("");
            if (url.isEmpty() || key.isEmpty()) {
                continue;
            }
            Path target = outDir.resolve(key.substring(key.lastIndexOf('/') + 1));
            HttpResponse<Path> res;
            try {
                res = http.send(
                        HttpRequest.newBuilder(URI.create(url))
                                .timeout(Duration.ofMinutes(2))
                                .GET()
                                .build(),
                        // ofFile(path) alone opens CREATE + WRITE: an earlier, longer file would keep its tail
                        HttpResponse.BodyHandlers.ofFile(
                                target,
                                StandardOpenOption.CREATE,
                                StandardOpenOption.WRITE,
                                StandardOpenOption.TRUNCATE_EXISTING));
            } catch (IOException e) {
                throw new ComponentException(
                        S3ProxyProcess.COMPONENT, "could not serve " + key + " (" + url + "): " + e.getMessage(), null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ComponentException(S3ProxyProcess.COMPONENT, "interrupted downloading " + key, null);
            }
            if (res.statusCode() != 200) {
                throw new ComponentException(
                        S3ProxyProcess.COMPONENT,
                        "answered the presigned GET of " + key + " with " + res.statusCode(),
                        null);
            }
            checkIntegrity(r, target);
            out.println("download " + target + " (" + r.path("format").asText() + ")");
            files.add(target);
        }
        if (files.isEmpty()) {
            throw new ComponentException(
                    LocalMode.GATEWAY, "reported job success without result URLs: " + view, gatewayLog);
        }
        return files;
    }

    private void checkIntegrity(JsonNode r, Path file) throws ComponentException {
        try {
            long size = Files.size(file);
            if (r.has("size") && r.path("size").asLong() != size) {
                throw new ComponentException(
                        S3ProxyProcess.COMPONENT,
                        "served " + size + " bytes for " + r.path("key").asText() + ", the job reports "
                                + r.path("size").asLong(),
                        null);
            }
            String sha = r.path("sha256").asText("");
            if (!sha.isEmpty() && !sha.equals(Sha256.hex(file))) {
                throw new ComponentException(
                        S3ProxyProcess.COMPONENT,
                        "served " + r.path("key").asText() + " with another sha256 than the job reports (" + sha + ")",
                        null);
            }
        } catch (IOException e) {
            throw new ComponentException("demo", "cannot read " + file + ": " + e.getMessage(), null);
        }
    }

    /** The number of frames of a GIF (ImageIO), failing when it is not a readable GIF. */
    public static int gifFrames(Path gif) throws ComponentException {
        try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName("gif");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in);
                return reader.getNumImages(true);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw new ComponentException(
                    LocalMode.WORKER, "wrote " + gif + ", which is not a readable GIF: " + e, null);
        }
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(gatewayUrl + path))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + apiKey);
    }

    private HttpResponse<String> send(HttpRequest req, String what) throws ComponentException {
        try {
            return http.send(req, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new ComponentException(LocalMode.GATEWAY, "did not answer " + what + ": " + e, gatewayLog);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ComponentException(LocalMode.GATEWAY, "interrupted during " + what, gatewayLog);
        }
    }

    private JsonNode parse(String body, String what) throws ComponentException {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new ComponentException(
                    LocalMode.GATEWAY, "answered " + what + " with invalid JSON: " + body, gatewayLog);
        }
    }
}
