package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ChecksumMismatchException;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.S3ProxyServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The disk cache against a real S3 server: layout, sha256 verification, reuse, races. */
class ModelDiskCacheTest {
    @TempDir
    Path tmp;

    private S3ProxyServer s3;
    private ObjectStore store;
    private ModelRegistry registry;
    private ModelManifest model;
    private final byte[] config = "{\"sample_size\": 8}".getBytes(StandardCharsets.UTF_8);
    private final byte[] weights = "weights-bytes-0123456789".getBytes(StandardCharsets.UTF_8);

    @BeforeEach
    void start() throws Exception {
        s3 = S3ProxyServer.startInMemory();
        store = s3.newStore("disk-cache-test");
        registry = new ModelRegistry(store);
        Path src = Files.createDirectories(tmp.resolve("src/unet"));
        Files.write(src.resolve("config.json"), config);
        Files.write(src.resolve("diffusion_pytorch_model.safetensors"), weights);
        model = registry.register(
                ModelKind.BASE,
                "folder-model",
                ModelFormat.DIFFUSERS,
                List.of(
                        LocalModelFile.of("unet/config.json", src.resolve("config.json")),
                        LocalModelFile.of(
                                "unet/diffusion_pytorch_model.safetensors",
                                src.resolve("diffusion_pytorch_model.safetensors"))),
                Map.of());
    }

    @AfterEach
    void stop() throws Exception {
        store.close();
        s3.close();
    }

    private ModelManifest motionOf(String name, int bytes, byte fill) throws Exception {
        byte[] data = new byte[bytes];
        java.util.Arrays.fill(data, fill);
        Path f = Files.write(tmp.resolve(name + ".safetensors"), data);
        return registry.register(
                ModelKind.MOTION,
                name,
                ModelFormat.MOTION_SAFETENSORS,
                List.of(LocalModelFile.of("mm.safetensors", f)),
                Map.of());
    }

    @Test
    void evictsTheLeastRecentlyUsedModelsOverItsBudget() throws Exception {
        WorkerMetrics metrics = new WorkerMetrics();
        // budget 2500 bytes, the most recently used folder pinned
        ModelDiskCache cache = new ModelDiskCache(tmp.resolve("cache"), registry, metrics, 2500, 1);
        ModelManifest a = motionOf("mm-a", 1000, (byte) 1);
        ModelManifest b = motionOf("mm-b", 1000, (byte) 2);
        ModelManifest c = motionOf("mm-c", 1000, (byte) 3);
        Path dirA = cache.materialize(a);
        Thread.sleep(20);
        Path dirB = cache.materialize(b);
        Thread.sleep(20);
        assertEquals(dirA, cache.materialize(a), "a used again: b is now the least recently used");
        Thread.sleep(20);
        assertEquals(2000, cache.blobBytes());
        assertEquals(0, metrics.diskCacheEvictions());
        Path dirC = cache.materialize(c); // 3000 > 2500: evict b
        assertFalse(Files.exists(dirB), "least recently used folder evicted");
        assertTrue(Files.isDirectory(dirA));
        assertTrue(Files.isDirectory(dirC));
        assertEquals(2000, cache.blobBytes(), "b's blob went with its folder");
        assertEquals(1, metrics.diskCacheEvictions());
        assertTrue(metrics.prometheus().contains("animatediff_worker_disk_cache_evictions_total 1"));
        long misses = metrics.diskCacheMisses();
        assertEquals(dirB, cache.materialize(b), "an evicted model comes back by downloading it again");
        assertEquals(misses + 1, metrics.diskCacheMisses());
    }

    @Test
    void aBadBudgetSaysWhatToSet() {
        assertEquals(0, ModelDiskCache.budgetFrom(Map.of()));
        assertEquals(5000, ModelDiskCache.budgetFrom(Map.of(ModelDiskCache.ENV_MAX_BYTES, "5000")));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ModelDiskCache.budgetFrom(Map.of(ModelDiskCache.ENV_MAX_BYTES, "50G")));
        assertTrue(e.getMessage().contains("not a number of bytes"), e.getMessage());
    }

    @Test
    void keepsTheManifestLayoutAndReusesVerifiedFiles() throws Exception {
        WorkerMetrics metrics = new WorkerMetrics();
        ModelDiskCache cache = new ModelDiskCache(tmp.resolve("cache"), registry, metrics);
        Path dir = cache.materialize(model);
        assertArrayEquals(config, Files.readAllBytes(dir.resolve("unet/config.json")));
        assertArrayEquals(weights, Files.readAllBytes(dir.resolve("unet/diffusion_pytorch_model.safetensors")));
        assertEquals(2, metrics.diskCacheMisses());
        assertTrue(Files.isRegularFile(
                cache.blobPath(model.file("unet/config.json").sha256())));

        // the store loses the files: a cached model never needs them again
        store.deletePrefix(ModelRegistry.modelPrefix(ModelKind.BASE, "folder-model") + "files/");
        assertEquals(dir, cache.materialize(model));
        assertEquals(2, metrics.diskCacheHits());
        assertEquals(2, metrics.diskCacheMisses());
        try (Stream<Path> leftovers = Files.list(dir.getParent())) {
            assertEquals(List.of(dir), leftovers.toList(), "no temporary folders left behind");
        }
    }

    @Test
    void aFileAlteredOnDiskIsDetectedByTheNextProcessAndFetchedAgain() throws Exception {
        Path dir = new ModelDiskCache(tmp.resolve("cache"), registry, new WorkerMetrics()).materialize(model);
        Path altered = dir.resolve("unet/diffusion_pytorch_model.safetensors");
        byte[] bad = weights.clone();
        bad[0] ^= 1; // same size, other bytes
        Files.write(altered, bad); // hard link: alters the blob too

        WorkerMetrics metrics = new WorkerMetrics();
        Path again = new ModelDiskCache(tmp.resolve("cache"), registry, metrics).materialize(model);
        assertArrayEquals(weights, Files.readAllBytes(again.resolve("unet/diffusion_pytorch_model.safetensors")));
        assertEquals(1, metrics.diskCacheMisses(), "only the altered file is downloaded again");
    }

    @Test
    void aCorruptStoredFileIsRefusedAndNothingIsCached() throws Exception {
        String key = ModelRegistry.fileKey(ModelKind.BASE, "folder-model", "unet/diffusion_pytorch_model.safetensors");
        store.put(key, "tampered".getBytes(StandardCharsets.UTF_8));
        ModelDiskCache cache = new ModelDiskCache(tmp.resolve("cache"), registry, new WorkerMetrics());
        ChecksumMismatchException e = assertThrows(ChecksumMismatchException.class, () -> cache.materialize(model));
        assertTrue(
                e.getMessage()
                        .contains("expected "
                                + model.file("unet/diffusion_pytorch_model.safetensors")
                                        .sha256()),
                e.getMessage());
        assertFalse(Files.exists(cache.blobPath(
                model.file("unet/diffusion_pytorch_model.safetensors").sha256())));
        try (Stream<Path> models = Files.walk(tmp.resolve("cache/models"))) {
            assertTrue(models.noneMatch(p -> p.getFileName().toString().startsWith("folder-model-")));
        }
    }

    @Test
    void theSameNameWithOtherFilesGetsAnotherFolder() throws Exception {
        ModelDiskCache cache = new ModelDiskCache(tmp.resolve("cache"), registry, new WorkerMetrics());
        Path first = cache.materialize(model);
        registry.delete(ModelKind.BASE, "folder-model");
        Path other = Files.write(tmp.resolve("other.safetensors"), "other".getBytes(StandardCharsets.UTF_8));
        ModelManifest replaced = registry.register(
                ModelKind.BASE,
                "folder-model",
                ModelFormat.LDM_SAFETENSORS,
                List.of(LocalModelFile.of("model.safetensors", other)),
                Map.of());
        Path second = cache.materialize(replaced);
        assertNotEquals(first, second);
        assertEquals(second.resolve("model.safetensors"), ModelResolver.weights(replaced, second), "one-file format");
        assertEquals(first, ModelResolver.weights(model, first), "diffusers format loads the folder");
    }
}
