package io.animatediff.common.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TraceParentTest {
    @Test
    void parsesW3cExampleAndContinuesTheTrace() {
        String w3c = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        TraceParent p = TraceParent.parse(w3c).orElseThrow();
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", p.traceId());
        assertEquals(w3c, p.header());
        TraceParent child = TraceParent.continueOrStart(w3c);
        assertEquals(p.traceId(), child.traceId());
        assertNotEquals(p.spanId(), child.spanId());
    }

    @Test
    void malformedOrZeroHeadersStartANewTrace() {
        for (String bad : new String[] {
            null,
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
        }) {
            assertTrue(TraceParent.parse(bad).isEmpty(), String.valueOf(bad));
            assertTrue(
                    TraceParent.parse(TraceParent.continueOrStart(bad).header()).isPresent());
        }
    }

    @Test
    void jobContextKeepsTraceAndCallbackPerThreadAndRestores() {
        String w3c = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assertTrue(JobContext.current().isEmpty());
        try (JobContext.Scope s = JobContext.open(
                Map.of(TraceParent.HEADER, w3c, JobContext.CALLBACK, "http://hooks/x", "other", "dropped"))) {
            assertTrue(JobContext.traceparent().contains("4bf92f3577b34da6a3ce929d0e0e4736"));
            assertEquals("http://hooks/x", JobContext.current().get(JobContext.CALLBACK));
            assertEquals(2, JobContext.current().size());
        }
        assertTrue(JobContext.current().isEmpty());
    }
}
