package io.animatediff.common.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.animatediff.common.Json;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.store.ChecksumMismatchException;
import io.animatediff.common.store.ObjectNotFoundException;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.S3ProxyServer;
import io.animatediff.common.store.Sha256;
import io.animatediff.common.validation.GenerationRequestValidator;
import io.animatediff.common.validation.TokenCounter;
import io.animatediff.common.validation.ValidationLimits;
import io.animatediff.common.validation.Violation;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The registry over a real S3-protocol server (S3Proxy, in-process). */
class ModelRegistryTest {
    static final Instant NOW = Instant.parse("2026-03-04T05:06:07.089Z");

    static S3ProxyServer s3;
    static ObjectStore store;
    static ModelRegistry registry;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3ProxyServer.startInMemory();
        store = s3.newStore("registry-test");
        registry = new ModelRegistry(store, Clock.fixed(NOW, ZoneOffset.UTC));
    }

    @AfterAll
    static void stop() throws Exception {
        store.close();
        s3.close();
    }

    Path file(String name, int size, long seed) throws Exception {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        Path p = tmp.resolve(name);
        Files.createDirectories(p.getParent());
        return Files.write(p, b);
    }

    @Test
    void registerGetListDownloadDeleteRoundTrip() throws Exception {
        Path weights = file("mm.safetensors", 100_000, 1);
        Path config = Files.writeString(tmp.resolve("config.json"), "{\"motion_max_seq_length\":32}");
        Map<String, Object> cfg = Map.of("max_frames", 32, "layout", "official", "resolutions", List.of(1, 2, 4, 8));
        ModelManifest m = registry.register(
                ModelKind.MOTION,
                "mm-sd-v15-v2",
                ModelFormat.MOTION_SAFETENSORS,
                List.of(
                        new LocalModelFile("mm.safetensors", weights, Sha256.hex(weights)),
                        LocalModelFile.of("config/config.json", config)),
                cfg);
        assertEquals(1, m.schema());
        assertEquals(NOW, m.createdAt());
        assertEquals(2, m.files().size());
        assertEquals(Sha256.hex(weights), m.file("mm.safetensors").sha256());
        assertEquals(100_000, m.file("mm.safetensors").size());
        assertEquals(32, m.maxFrames().getAsInt());
        assertEquals(100_000 + Files.size(config), m.totalSize());

        // stored layout
        assertEquals(
                List.of(
                        "models/motion/mm-sd-v15-v2/files/config/config.json",
                        "models/motion/mm-sd-v15-v2/files/mm.safetensors",
                        "models/motion/mm-sd-v15-v2/manifest.json"),
                store.list("models/motion/mm-sd-v15-v2/").stream()
                        .map(o -> o.key())
                        .toList());
        JsonNode json = Json.mapper().readTree(store.getBytes("models/motion/mm-sd-v15-v2/manifest.json"));
        assertEquals(1, json.get("schema").asInt());
        assertEquals("motion", json.get("kind").asText());
        assertEquals("motion-safetensors", json.get("format").asText());
        assertEquals("2026-03-04T05:06:07.089Z", json.get("created_at").asText());
        assertEquals(
                m.file("mm.safetensors").sha256(),
                json.get("files").get(0).get("sha256").asText());

        assertEquals(m, registry.get(ModelKind.MOTION, "mm-sd-v15-v2"));
        assertTrue(registry.exists(ModelKind.MOTION, "mm-sd-v15-v2"));
        assertFalse(registry.exists(ModelKind.BASE, "mm-sd-v15-v2"));
        assertEquals(List.of(m), registry.list(ModelKind.MOTION));
        assertEquals(List.of(), registry.list(ModelKind.MOTION_LORA));

        Path cached = registry.download(m, m.file("mm.safetensors"), tmp.resolve("cache/mm.safetensors"));
        assertArrayEquals(Files.readAllBytes(weights), Files.readAllBytes(cached));

        // same files again: idempotent (a redelivered training job)
        ModelRegistry later = new ModelRegistry(store, Clock.fixed(NOW.plusSeconds(60), ZoneOffset.UTC));
        ModelManifest again = later.register(
                ModelKind.MOTION,
                "mm-sd-v15-v2",
                ModelFormat.MOTION_SAFETENSORS,
                List.of(LocalModelFile.of("mm.safetensors", weights), LocalModelFile.of("config/config.json", config)),
                cfg);
        assertEquals(NOW, again.createdAt(), "the existing registration is returned");

        assertTrue(registry.delete(ModelKind.MOTION, "mm-sd-v15-v2"));
        assertEquals(List.of(), store.list("models/motion/mm-sd-v15-v2/"));
        ModelNotFoundException gone =
                assertThrows(ModelNotFoundException.class, () -> registry.get(ModelKind.MOTION, "mm-sd-v15-v2"));
        assertTrue(gone.getMessage().contains("models/motion/mm-sd-v15-v2/manifest.json"), gone.getMessage());
        assertFalse(registry.delete(ModelKind.MOTION, "mm-sd-v15-v2"));
    }

    @Test
    void otherFilesUnderATakenNameConflict() throws Exception {
        Path a = file("a.safetensors", 1000, 2);
        Path b = file("b.safetensors", 1000, 3);
        registry.register(
                ModelKind.LORA,
                "detail",
                ModelFormat.LORA_SAFETENSORS,
                List.of(LocalModelFile.of("w.safetensors", a)),
                Map.of());
        ModelConflictException e = assertThrows(
                ModelConflictException.class,
                () -> registry.register(
                        ModelKind.LORA,
                        "detail",
                        ModelFormat.LORA_SAFETENSORS,
                        List.of(LocalModelFile.of("w.safetensors", b)),
                        Map.of()));
        assertTrue(e.getMessage().contains("detail") && e.getMessage().contains("delete it first"), e.getMessage());
        assertEquals(
                Sha256.hex(a),
                registry.get(ModelKind.LORA, "detail").files().get(0).sha256());
        registry.delete(ModelKind.LORA, "detail");
    }

    @Test
    void sha256MismatchRegistersNothing() throws Exception {
        Path good = file("good.bin", 5000, 4);
        Path corrupt = file("corrupt.bin", 5000, 5);
        ChecksumMismatchException e = assertThrows(
                ChecksumMismatchException.class,
                () -> registry.register(
                        ModelKind.BASE,
                        "sd15",
                        ModelFormat.DIFFUSERS,
                        List.of(
                                LocalModelFile.of("vae/model.safetensors", good),
                                new LocalModelFile("unet/model.safetensors", corrupt, Sha256.hex(good))),
                        Map.of()));
        assertEquals(Sha256.hex(good), e.expected());
        assertEquals(Sha256.hex(corrupt), e.actual());
        assertTrue(e.getMessage().contains("unet/model.safetensors"), e.getMessage());
        assertTrue(registry.find(ModelKind.BASE, "sd15").isEmpty());
        assertEquals(List.of(), store.list("models/base/sd15/"), "not even the good file was uploaded");
    }

    @Test
    void presignedUploadThenFinalizeChecksTheStoredBytes() throws Exception {
        byte[] data = Files.readAllBytes(file("upload.safetensors", 20_000, 6));
        String key = ModelRegistry.fileKey(ModelKind.MOTION_LORA, "zoom-in", "lora.safetensors");
        HttpResponse<Void> put = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(store.presignedPut(key, Duration.ofMinutes(5)))
                                .PUT(HttpRequest.BodyPublishers.ofByteArray(data))
                                .build(),
                        HttpResponse.BodyHandlers.discarding());
        assertEquals(200, put.statusCode());

        // declared with another hash: refused, and the upload and its sibling are removed
        byte[] sibling = "{\"rank\": 8}".getBytes(StandardCharsets.UTF_8);
        store.put(ModelRegistry.fileKey(ModelKind.MOTION_LORA, "zoom-in", "config.json"), sibling);
        ModelFile wrong = new ModelFile("lora.safetensors", "0".repeat(64), data.length);
        ModelFile siblingFile = new ModelFile("config.json", Sha256.hex(sibling), sibling.length);
        ChecksumMismatchException e = assertThrows(
                ChecksumMismatchException.class,
                () -> registry.finalizeUpload(
                        ModelKind.MOTION_LORA, "zoom-in", ModelFormat.CKPT, List.of(siblingFile, wrong), Map.of()));
        assertTrue(e.getMessage().contains("upload the right files again"), e.getMessage());
        assertFalse(store.exists(key));
        assertEquals(List.of(), store.list("models/motion-lora/zoom-in/"), "objects left behind");
        assertFalse(registry.exists(ModelKind.MOTION_LORA, "zoom-in"));

        // nothing uploaded: says so
        ModelFile right = new ModelFile("lora.safetensors", Sha256.hex(data), data.length);
        ObjectNotFoundException missing = assertThrows(
                ObjectNotFoundException.class,
                () -> registry.finalizeUpload(
                        ModelKind.MOTION_LORA, "zoom-in", ModelFormat.CKPT, List.of(right), Map.of()));
        assertTrue(missing.getMessage().contains("presigned PUT"), missing.getMessage());

        // uploaded and declared correctly: registered
        store.put(key, data);
        ModelManifest m = registry.finalizeUpload(
                ModelKind.MOTION_LORA, "zoom-in", ModelFormat.CKPT, List.of(right), Map.of("rank", 8), "0123abcd");
        assertEquals(m, registry.get(ModelKind.MOTION_LORA, "zoom-in"));
        assertEquals(8, m.config().get("rank"));
        assertEquals("0123abcd", registry.get(ModelKind.MOTION_LORA, "zoom-in").owner());
        assertTrue(m.isOwnedBy("0123abcd"));
        assertFalse(m.isOwnedBy("0123abce"));
        registry.delete(ModelKind.MOTION_LORA, "zoom-in");
    }

    @Test
    void corruptManifestIsReportedWithItsKey() {
        store.put(
                "models/base/broken/manifest.json",
                "{\"schema\":1,\"kind\":\"base\"}".getBytes(StandardCharsets.UTF_8));
        IllegalStateException e =
                assertThrows(IllegalStateException.class, () -> registry.get(ModelKind.BASE, "broken"));
        assertTrue(e.getMessage().contains("models/base/broken/manifest.json"), e.getMessage());
        store.put(
                "models/base/broken/manifest.json",
                Json.writeBytes(new ModelManifest(
                        1,
                        ModelKind.BASE,
                        "other-name",
                        ModelFormat.DIFFUSERS,
                        List.of(new ModelFile("a", "a".repeat(64), 1)),
                        Map.of(),
                        NOW,
                        null)));
        IllegalStateException mismatch =
                assertThrows(IllegalStateException.class, () -> registry.get(ModelKind.BASE, "broken"));
        assertTrue(mismatch.getMessage().contains("other-name"), mismatch.getMessage());
        registry.delete(ModelKind.BASE, "broken");
    }

    @Test
    void aManifestWrittenBeforeOwnersExistedReadsWithoutOne() {
        // the exact shape stored before the owner field existed
        String old = "{\"schema\": 1, \"kind\": \"lora\", \"name\": \"old-lora\", \"format\":"
                + " \"lora-safetensors\", \"created_at\": \"2026-01-02T03:04:05.006Z\", \"files\": [{\"path\":"
                + " \"l.safetensors\", \"sha256\": \"" + "b".repeat(64) + "\", \"size\": 4}], \"config\": {}}";
        store.put(ModelRegistry.manifestKey(ModelKind.LORA, "old-lora"), old.getBytes(StandardCharsets.UTF_8));
        ModelManifest m = registry.get(ModelKind.LORA, "old-lora");
        assertEquals(null, m.owner());
        assertFalse(m.isOwnedBy("0123abcd"));
        assertFalse(Json.write(m).contains("owner"), "an absent owner stays absent: " + Json.write(m));
        assertTrue(registry.list(ModelKind.LORA).stream().anyMatch(l -> l.name().equals("old-lora")));
        // an owner that is not a plain token is refused like any other bad field
        store.put(
                ModelRegistry.manifestKey(ModelKind.LORA, "old-lora"),
                old.replace("\"config\"", "\"owner\": \"../x y\", \"config\"").getBytes(StandardCharsets.UTF_8));
        IllegalStateException e =
                assertThrows(IllegalStateException.class, () -> registry.get(ModelKind.LORA, "old-lora"));
        assertTrue(e.getMessage().contains("owner"), e.getMessage());
        registry.delete(ModelKind.LORA, "old-lora");
    }

    @Test
    void namesAndPathsCannotEscapeTheirFolder() {
        assertThrows(IllegalArgumentException.class, () -> ModelRegistry.manifestKey(ModelKind.BASE, "../x"));
        assertThrows(IllegalArgumentException.class, () -> ModelRegistry.manifestKey(ModelKind.BASE, "A"));
        for (String bad : List.of("../x", "/abs", "a//b", ".hidden", "a/../../b", "")) {
            assertThrows(IllegalArgumentException.class, () -> ModelFile.checkPath(bad), bad);
        }
        assertEquals(
                "models/lora/x/files/a/b.safetensors", ModelRegistry.fileKey(ModelKind.LORA, "x", "a/b.safetensors"));
    }

    @Test
    void catalogBacksTheValidatorAndCachesForItsTtl() throws Exception {
        AtomicLong nanos = new AtomicLong();
        RegistryModelCatalog catalog = new RegistryModelCatalog(registry, Duration.ofSeconds(10), nanos::get);
        GenerationRequestValidator validator =
                new GenerationRequestValidator(ValidationLimits.DEFAULTS, catalog, TokenCounter.NONE);
        GenerationRequest request = GenerationRequest.builder()
                .prompt("a cat")
                .baseModel("rv5")
                .motionModule("mm-v3")
                .build();
        assertEquals(
                List.of("base_model", "motion_module"),
                validator.validate(request, 32).stream().map(Violation::field).toList());

        registry.register(
                ModelKind.BASE,
                "rv5",
                ModelFormat.LDM_SAFETENSORS,
                List.of(LocalModelFile.of("m.safetensors", file("rv5", 10, 7))),
                Map.of());
        registry.register(
                ModelKind.MOTION,
                "mm-v3",
                ModelFormat.CKPT,
                List.of(LocalModelFile.of("mm.ckpt", file("mm3", 10, 8))),
                Map.of("max_frames", 32));
        assertEquals(2, validator.validate(request, 32).size(), "cached negative answers last the ttl");
        nanos.addAndGet(Duration.ofSeconds(11).toNanos());
        assertEquals(List.of(), validator.validate(request, 32));

        registry.delete(ModelKind.BASE, "rv5");
        assertTrue(catalog.contains(ModelKind.BASE, "rv5"), "still cached");
        catalog.invalidate();
        assertFalse(catalog.contains(ModelKind.BASE, "rv5"));
        RegistryModelCatalog uncached = new RegistryModelCatalog(registry, Duration.ZERO);
        assertTrue(uncached.contains(ModelKind.MOTION, "mm-v3"));
        assertFalse(uncached.contains(ModelKind.MOTION, "Not Valid"));
        registry.delete(ModelKind.MOTION, "mm-v3");
        assertFalse(uncached.contains(ModelKind.MOTION, "mm-v3"));
        assertSame(registry.store(), store);
    }
}
