package io.animatediff.gateway;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Generated malformed requests against the real gateway (real HTTP, real Kafka, real S3 protocol):
 * every one is answered 4xx with a problem document naming the offending field, none 5xx, and the
 * gateway stays healthy. Also tenancy: a job belongs to the key that submitted it (403 for any
 * other key on GET, SSE and cancel; listings show the caller's jobs only).
 */
@QuarkusTest
@TestProfile(GatewayBadInputTest.Unlimited.class)
@QuarkusTestResource(value = InProcessKafka.class, restrictToAnnotatedClass = true)
@QuarkusTestResource(value = InProcessS3.class, restrictToAnnotatedClass = true)
class GatewayBadInputTest {
    static final String KEY = "Bearer test-key";
    static final String OTHER_KEY = "Bearer other-key";
    static final int CASES = 600;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The test keys without the tight rate limit of the test profile (600 requests in a burst). */
    public static class Unlimited implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "animatediff.rate-limit.rate",
                    "100000",
                    "animatediff.rate-limit.burst",
                    "100000",
                    "animatediff.queue-quota.max-active-jobs-per-key",
                    "100000");
        }
    }

    @BeforeAll
    static void models() throws Exception {
        try (ObjectStore store = InProcessS3.server.newStore(InProcessS3.BUCKET)) {
            ModelRegistry r = new ModelRegistry(store);
            Path dir = Files.createTempDirectory("gateway-bad-input");
            Path weights = Files.write(dir.resolve("w.safetensors"), new byte[] {1, 2, 3, 4});
            if (r.find(ModelKind.BASE, "tiny-base").isEmpty()) {
                r.register(
                        ModelKind.BASE,
                        "tiny-base",
                        ModelFormat.LDM_SAFETENSORS,
                        List.of(LocalModelFile.of("model.safetensors", weights)),
                        Map.of());
                r.register(
                        ModelKind.MOTION,
                        "tiny-motion",
                        ModelFormat.MOTION_SAFETENSORS,
                        List.of(LocalModelFile.of("mm.safetensors", weights)),
                        Map.of("max_frames", 16));
            }
        }
    }

    /** One malformed request: its body and the field its problem must name. */
    record Case(String description, String body, String field) {}

    static ObjectNode valid() {
        ObjectNode b = JSON.createObjectNode();
        b.put("prompt", "a cat walking");
        b.put("base_model", "tiny-base");
        b.put("motion_module", "tiny-motion");
        b.put("num_frames", 8);
        b.put("width", 64);
        b.put("height", 64);
        b.put("num_inference_steps", 2);
        return b;
    }

    static Case mutate(String what, String field, Consumer<ObjectNode> m) {
        ObjectNode b = valid();
        m.accept(b);
        return new Case(what, b.toString(), field);
    }

    /** A seeded generator over the malformed shapes of issue 6. */
    static List<Case> cases(Random r) {
        List<Case> out = new ArrayList<>();
        String[] sizes = {"width", "height"};
        String[] ints = {"num_frames", "num_inference_steps", "width", "height", "fps"};
        String[] models = {"base_model", "motion_module"};
        String[] badNames = {"../../etc/passwd", "..", "a/b", "/abs", "x\u0000y", "C:\\win", "%2e%2e%2f", " ", ""};
        while (out.size() < CASES) {
            switch (r.nextInt(16)) {
                case 0 -> {
                    String f = sizes[r.nextInt(2)];
                    int v = 64 + 1 + r.nextInt(7) + 8 * r.nextInt(100); // not a multiple of 8
                    out.add(mutate(f + "=" + v, f, b -> b.put(f, v)));
                }
                case 1 -> {
                    String f = sizes[r.nextInt(2)];
                    long v = r.nextBoolean() ? -8L * r.nextInt(1000) : 8L * (2000 + r.nextInt(1_000_000));
                    out.add(mutate(f + "=" + v, f, b -> b.put(f, v)));
                }
                case 2 -> {
                    long v = r.nextBoolean() ? -r.nextInt(1000) : 1000 + r.nextInt(Integer.MAX_VALUE - 1000);
                    out.add(mutate("num_frames=" + v, "num_frames", b -> b.put("num_frames", v)));
                }
                case 3 -> {
                    long v = r.nextBoolean() ? -r.nextInt(1000) : 1000 + r.nextInt(Integer.MAX_VALUE - 1000);
                    out.add(mutate("steps=" + v, "num_inference_steps", b -> b.put("num_inference_steps", v)));
                }
                case 4 -> {
                    double v = r.nextBoolean() ? -1 - r.nextDouble() * 100 : 31 + r.nextDouble() * 1e12;
                    out.add(mutate("guidance=" + v, "guidance_scale", b -> b.put("guidance_scale", v)));
                }
                case 5 -> {
                    String v = new String[] {"NaN", "Infinity", "-Infinity"}[r.nextInt(3)];
                    boolean quoted = r.nextBoolean();
                    String body = valid().toString()
                            .replace("}", ", \"guidance_scale\": " + (quoted ? "\"" + v + "\"" : v) + "}");
                    out.add(new Case("guidance " + v, body, "guidance_scale"));
                }
                case 6 -> {
                    String v = new String[] {
                                "18446744073709551616", "-1", "-9223372036854775809", "1e30", "\"abc\"", "1.5", "[]"
                            }
                            [r.nextInt(7)];
                    String body = valid().toString().replace("}", ", \"seed\": " + v + "}");
                    out.add(new Case("seed " + v, body, "seed"));
                }
                case 7 -> {
                    String v = "sched-" + Integer.toHexString(r.nextInt());
                    out.add(mutate("scheduler " + v, "scheduler", b -> b.put("scheduler", v)));
                }
                case 8 -> {
                    String f = models[r.nextInt(2)];
                    String v = badNames[r.nextInt(badNames.length)];
                    out.add(mutate(f + " " + v, f, b -> b.put(f, v)));
                }
                case 9 -> {
                    String f = new String[] {"prompt", "base_model", "motion_module"}[r.nextInt(3)];
                    out.add(mutate("missing " + f, f, b -> b.remove(f)));
                }
                case 10 -> {
                    boolean empty = r.nextBoolean();
                    String v = empty ? "" : "x ".repeat(2100 + r.nextInt(20_000));
                    out.add(mutate(empty ? "empty prompt" : "huge prompt", "prompt", b -> b.put("prompt", v)));
                }
                case 11 -> {
                    String f = ints[r.nextInt(ints.length)];
                    String v = new String[] {"\"eight\"", "true", "{}", "[1]", "1.5"}[r.nextInt(5)];
                    String body = valid().toString();
                    body = body.contains("\"" + f + "\"")
                            ? body.replaceFirst("\"" + f + "\":[^,}]*", "\"" + f + "\":" + v)
                            : body.replace("}", ", \"" + f + "\": " + v + "}");
                    out.add(new Case(f + " " + v, body, f));
                }
                case 12 -> {
                    String v = new String[] {"123", "true", "{}", "[\"a\"]"}[r.nextInt(4)];
                    String body = valid().toString().replace("\"a cat walking\"", v);
                    out.add(new Case("prompt " + v, body, "prompt"));
                }
                case 13 -> {
                    String v = new String[] {"[\"exe\"]", "[\"../gif\"]", "\"gif\"", "[1]"}[r.nextInt(4)];
                    String body = valid().toString().replace("}", ", \"output_formats\": " + v + "}");
                    out.add(new Case("output_formats " + v, body, "output_formats"));
                }
                case 14 -> {
                    int v = r.nextBoolean() ? -r.nextInt(100) : 61 + r.nextInt(10_000);
                    out.add(mutate("fps=" + v, "fps", b -> b.put("fps", v)));
                }
                default -> {
                    String v = "x_" + Integer.toHexString(r.nextInt());
                    out.add(mutate("unknown field " + v, v, b -> b.put(v, 1)));
                }
            }
        }
        return out;
    }

    @Test
    void everyMalformedRequestIsA4xxProblemNamingItsField() throws Exception {
        List<Case> cases = cases(new Random(6));
        List<String> failures = new ArrayList<>();
        int fourXx = 0;
        for (Case c : cases) {
            Response res = given().header("Authorization", KEY)
                    .header("Content-Type", "application/json")
                    .body(c.body())
                    .post("/v1/animations");
            int s = res.statusCode();
            String type = String.valueOf(res.contentType());
            if (s < 400 || s >= 500) {
                failures.add(c.description() + " -> " + s + " " + abbreviate(res.asString()));
                continue;
            }
            fourXx++;
            if (!type.startsWith("application/problem+json")) {
                failures.add(c.description() + " -> " + s + " with content type " + type);
                continue;
            }
            JsonNode p = JSON.readTree(res.asString());
            boolean named = false;
            for (JsonNode v : p.path("violations")) {
                String f = v.path("field").asText();
                named |= f.equals(c.field()) || f.startsWith(c.field() + "[") || f.startsWith(c.field() + ".");
            }
            if (!named) {
                failures.add(c.description() + " -> " + s + " does not name '" + c.field() + "': "
                        + abbreviate(res.asString()));
            }
        }
        System.out.println("bad input: " + cases.size() + " generated malformed requests, " + fourXx
                + " answered 4xx problem+json, " + failures.size() + " failures");
        assertTrue(
                failures.isEmpty(),
                failures.size() + " of " + cases.size() + ":\n"
                        + String.join("\n", failures.subList(0, Math.min(40, failures.size()))));
        assertEquals(CASES, fourXx);
        given().get("/q/health/ready").then().statusCode(200);
    }

    @Test
    void bodiesThatAreNotJobsAreRefusedToo() {
        List<String> bodies = List.of(
                "",
                "not json",
                "{",
                "[]",
                "[1,2]",
                "null",
                "42",
                "\"s\"",
                "{\"prompt\":",
                "{".repeat(5000) + "}".repeat(5000));
        for (String b : bodies) {
            Response res = given().header("Authorization", KEY)
                    .header("Content-Type", "application/json")
                    .body(b)
                    .post("/v1/animations");
            assertTrue(
                    res.statusCode() >= 400 && res.statusCode() < 500,
                    abbreviate(b) + " -> " + res.statusCode() + " " + abbreviate(res.asString()));
            assertTrue(
                    String.valueOf(res.contentType()).startsWith("application/problem+json"),
                    abbreviate(b) + " -> " + res.contentType());
        }
    }

    @Test
    void aJobBelongsToTheKeyThatSubmittedIt() throws Exception {
        Response created = given().header("Authorization", KEY)
                .header("Content-Type", "application/json")
                .body(valid().toString())
                .post("/v1/animations");
        assertEquals(202, created.statusCode(), created.asString());
        String id = JSON.readTree(created.asString()).path("job_id").asText();
        given().header("Authorization", KEY).get("/v1/jobs/" + id).then().statusCode(200);
        Response other = given().header("Authorization", OTHER_KEY).get("/v1/jobs/" + id);
        assertEquals(403, other.statusCode(), other.asString());
        assertTrue(String.valueOf(other.contentType()).startsWith("application/problem+json"));
        assertFalse(other.asString().contains("results"), other.asString());
        given().header("Authorization", OTHER_KEY)
                .post("/v1/jobs/" + id + "/cancel")
                .then()
                .statusCode(403);
        given().header("Authorization", OTHER_KEY)
                .get("/v1/jobs/" + id + "/events")
                .then()
                .statusCode(403);
        // listings: the owner sees it, the other key does not
        assertTrue(given().header("Authorization", KEY)
                .get("/v1/jobs?size=100")
                .asString()
                .contains(id));
        assertFalse(given().header("Authorization", OTHER_KEY)
                .get("/v1/jobs?size=100")
                .asString()
                .contains(id));
        // an idempotent submission of the other key with the same Idempotency-Key is its own job
        String idem = "same-key-" + System.nanoTime();
        String a = JSON.readTree(given().header("Authorization", KEY)
                        .header("Idempotency-Key", idem)
                        .header("Content-Type", "application/json")
                        .body(valid().toString())
                        .post("/v1/animations")
                        .asString())
                .path("job_id")
                .asText();
        String b = JSON.readTree(given().header("Authorization", OTHER_KEY)
                        .header("Idempotency-Key", idem)
                        .header("Content-Type", "application/json")
                        .body(valid().toString())
                        .post("/v1/animations")
                        .asString())
                .path("job_id")
                .asText();
        assertFalse(a.equals(b), a);
        given().header("Authorization", KEY).get("/v1/jobs/" + b).then().statusCode(403);
        given().header("Authorization", OTHER_KEY).get("/v1/jobs/" + b).then().statusCode(200);
    }

    @Test
    void refusedUploadsLeaveNoPartialObjects() {
        byte[] bytes = new byte[200_000];
        new Random(11).nextBytes(bytes);
        String[][] attempts = {
            {"0".repeat(64), "mm.safetensors"}, // sha256 mismatch
            {"nothex", "mm.safetensors"}, // malformed sha256
            {null, "../../etc/passwd"}, // traversal in the file path
            {null, "/abs.safetensors"},
        };
        for (String[] a : attempts) {
            var req = given().header("Authorization", KEY)
                    .contentType("application/octet-stream")
                    .body(bytes);
            if (a[0] != null) {
                req = req.header("X-Sha256", a[0]);
            }
            Response res = req.post("/v1/models/motion/partial-motion?path=" + a[1]);
            assertTrue(
                    res.statusCode() >= 400 && res.statusCode() < 500,
                    a[1] + " -> " + res.statusCode() + " " + res.asString());
            assertTrue(String.valueOf(res.contentType()).startsWith("application/problem+json"), res.contentType());
        }
        try (ObjectStore store = InProcessS3.server.newStore(InProcessS3.BUCKET)) {
            assertEquals(List.of(), store.list("models/motion/partial-motion/"), "objects left behind");
            assertTrue(store.list("etc/").isEmpty());
        }
        given().header("Authorization", KEY)
                .get("/v1/models/motion/partial-motion")
                .then()
                .statusCode(404);
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}
