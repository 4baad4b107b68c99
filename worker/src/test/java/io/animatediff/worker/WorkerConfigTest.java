package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkerConfigTest {
    private final Map<String, String> env = new HashMap<>(Map.of(
            "ANIMATEDIFF_S3_ENDPOINT", "http://127.0.0.1:9000",
            "ANIMATEDIFF_S3_ACCESS_KEY", "key",
            "ANIMATEDIFF_S3_SECRET_KEY", "secret"));
    private final Map<String, String> props = new HashMap<>();

    private WorkerConfig read() {
        return WorkerConfig.from(props::get, env::get);
    }

    @Test
    void defaultsFollowTheContract() {
        WorkerConfig c = read();
        assertEquals("localhost:9092", c.bootstrapServers());
        assertEquals(Topics.WORKERS_GROUP, c.groupId());
        assertEquals(3, c.maxAttempts());
        assertEquals(8L << 30, c.modelCacheBytes());
        assertEquals(8081, c.healthPort());
        assertEquals(Duration.ofMillis(250), c.progressInterval());
        assertEquals(Duration.ofMinutes(5), c.maxPollInterval());
        assertEquals("animatediff", c.store().bucket());
        assertTrue(c.workerId().matches(".+-\\d+"), c.workerId());
        assertTrue(c.warmup());
        assertEquals(0, c.memoryBudgetBytes(), "no memory budget unless set");
    }

    @Test
    void readsTheEnvironmentAndPropertiesWin() {
        env.put("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092");
        env.put("ANIMATEDIFF_CACHE_DIR", "/var/cache/ad");
        env.put("ANIMATEDIFF_WORKER_ID", "gpu-7");
        env.put("ANIMATEDIFF_WORKER_HEALTH_PORT", "0");
        env.put("ANIMATEDIFF_WORKER_MAX_ATTEMPTS", "5");
        env.put("ANIMATEDIFF_WORKER_MODEL_CACHE_BYTES", "512m");
        env.put("ANIMATEDIFF_WORKER_MAX_POLL_INTERVAL_MS", "3000");
        env.put("ANIMATEDIFF_WORKER_WARMUP", "false");
        env.put("ANIMATEDIFF_MEMORY_BUDGET_BYTES", "6g");
        props.put("animatediff.worker.max-attempts", "7");
        props.put("kafka.bootstrap.servers", "other:9092");
        WorkerConfig c = read();
        assertEquals("other:9092", c.bootstrapServers());
        assertEquals(Path.of("/var/cache/ad"), c.cacheDir());
        assertEquals("gpu-7", c.workerId());
        assertEquals(0, c.healthPort());
        assertEquals(7, c.maxAttempts());
        assertEquals(512L << 20, c.modelCacheBytes());
        assertEquals(Duration.ofSeconds(3), c.maxPollInterval());
        assertFalse(c.warmup());
        assertEquals(6L << 30, c.memoryBudgetBytes());
    }

    @Test
    void badValuesNameTheVariable() {
        env.put("ANIMATEDIFF_WORKER_MAX_ATTEMPTS", "three");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, this::read);
        assertTrue(e.getMessage().contains("ANIMATEDIFF_WORKER_MAX_ATTEMPTS"), e.getMessage());
        env.put("ANIMATEDIFF_WORKER_MAX_ATTEMPTS", "0");
        e = assertThrows(IllegalArgumentException.class, this::read);
        assertTrue(e.getMessage().contains("use 1 or more"), e.getMessage());
        env.remove("ANIMATEDIFF_WORKER_MAX_ATTEMPTS");
        env.put("ANIMATEDIFF_WORKER_MODEL_CACHE_BYTES", "lots");
        e = assertThrows(IllegalArgumentException.class, this::read);
        assertTrue(e.getMessage().contains("suffix k, m or g"), e.getMessage());
        env.remove("ANIMATEDIFF_WORKER_MODEL_CACHE_BYTES");
        env.put("ANIMATEDIFF_MEMORY_BUDGET_BYTES", "-1");
        e = assertThrows(IllegalArgumentException.class, this::read);
        assertTrue(e.getMessage().contains("ANIMATEDIFF_MEMORY_BUDGET_BYTES"), e.getMessage());
        env.remove("ANIMATEDIFF_MEMORY_BUDGET_BYTES");
        env.remove("ANIMATEDIFF_S3_ENDPOINT");
        e = assertThrows(IllegalArgumentException.class, this::read);
        assertTrue(e.getMessage().contains("ANIMATEDIFF_S3_ENDPOINT"), e.getMessage());
    }

    @Test
    void parsesByteSizes() {
        assertEquals(1024, WorkerConfig.parseBytes("1k", "x"));
        assertEquals(8L << 30, WorkerConfig.parseBytes("8G", "x"));
        assertEquals(12345, WorkerConfig.parseBytes("12345", "x"));
    }

    @Test
    void propertyNames() {
        assertEquals("animatediff.worker.max-attempts", WorkerConfig.propertyName("ANIMATEDIFF_WORKER_MAX_ATTEMPTS"));
        assertEquals("animatediff.cache-dir", WorkerConfig.propertyName("ANIMATEDIFF_CACHE_DIR"));
        assertEquals("kafka.bootstrap.servers", WorkerConfig.propertyName("KAFKA_BOOTSTRAP_SERVERS"));
    }

    @Test
    void batchMaxIsOffByDefaultReadFromEnvOrPropertyAndBounded() {
        assertEquals(1, read().batchMax());
        env.put("ANIMATEDIFF_BATCH_MAX", "4");
        assertEquals(4, read().batchMax());
        props.put("animatediff.batch-max", "2");
        assertEquals(2, read().batchMax());
        props.remove("animatediff.batch-max");
        for (String bad : List.of("0", "65")) {
            env.put("ANIMATEDIFF_BATCH_MAX", bad);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, this::read);
            assertTrue(e.getMessage().contains("ANIMATEDIFF_BATCH_MAX is " + bad), e.getMessage());
        }
    }
}
