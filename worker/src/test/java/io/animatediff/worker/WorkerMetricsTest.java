package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class WorkerMetricsTest {
    @Test
    void rendersPrometheusText() {
        WorkerMetrics m = new WorkerMetrics();
        m.modelCacheHit();
        m.modelCacheHit();
        m.modelCacheMiss();
        m.modelCacheEviction();
        m.diskCacheMiss(1000);
        m.job(WorkerMetrics.Outcome.SUCCEEDED);
        m.timeToFirstStep(12_500_000);
        m.readiness(() -> true);
        String text = m.prometheus();
        assertTrue(text.contains("# TYPE animatediff_worker_model_cache_hits_total counter\n"), text);
        assertTrue(text.contains("\nanimatediff_worker_model_cache_hits_total 2\n"), text);
        assertTrue(text.contains("\nanimatediff_worker_model_cache_misses_total 1\n"), text);
        assertTrue(text.contains("\nanimatediff_worker_model_cache_evictions_total 1\n"), text);
        assertTrue(text.contains("\nanimatediff_worker_downloaded_bytes_total 1000\n"), text);
        assertTrue(text.contains("animatediff_worker_jobs_total{outcome=\"succeeded\"} 1\n"), text);
        assertTrue(text.contains("animatediff_worker_jobs_total{outcome=\"released\"} 0\n"), text);
        assertTrue(text.contains("animatediff_worker_time_to_first_step_seconds_sum 0.012500\n"), text);
        assertTrue(text.contains("animatediff_worker_time_to_first_step_seconds_count 1\n"), text);
        assertTrue(text.contains("\nanimatediff_worker_ready 1\n"), text);
        for (String line : text.split("\n")) {
            assertTrue(line.startsWith("# ") || line.matches("[a-z_]+(\\{[a-z]+=\"[a-z]+\"\\})? [0-9.]+"), line);
        }
    }
}
