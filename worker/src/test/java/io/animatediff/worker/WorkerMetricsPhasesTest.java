package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Phase durations, steps per second and failures by reason in the Prometheus text. */
class WorkerMetricsPhasesTest {
    @Test
    void phasesStepsAndFailuresAreExported() {
        WorkerMetrics m = new WorkerMetrics();
        m.phase("queue", 2_000_000_000L);
        m.phase("load", 500_000_000L);
        m.denoised(25, 5_000_000_000L);
        m.phase("decode", 250_000_000L);
        m.phase("upload", 125_000_000L);
        m.failure("TIMEOUT");
        m.failure("TIMEOUT");
        m.failure("OUT_OF_MEMORY");
        String text = m.prometheus();
        assertTrue(text.contains("animatediff_worker_job_phase_seconds_sum{phase=\"queue\"} 2.000000"), text);
        assertTrue(text.contains("animatediff_worker_job_phase_seconds_sum{phase=\"denoise\"} 5.000000"), text);
        assertTrue(text.contains("animatediff_worker_job_phase_seconds_count{phase=\"upload\"} 1"), text);
        assertTrue(text.contains("animatediff_worker_steps_per_second 5.000"), text);
        assertTrue(text.contains("animatediff_worker_denoise_steps_total 25"), text);
        assertTrue(text.contains("animatediff_worker_failures_total{reason=\"TIMEOUT\"} 2"), text);
        assertTrue(text.contains("animatediff_worker_failures_total{reason=\"OUT_OF_MEMORY\"} 1"), text);
        for (String phase : WorkerMetrics.PHASES) {
            assertEquals(1, m.phaseCount(phase), phase);
        }
    }
}
