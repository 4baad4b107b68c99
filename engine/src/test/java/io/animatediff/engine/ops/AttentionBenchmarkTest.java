package io.animatediff.engine.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The attention benchmark at toy sizes: every variant per S, score bytes as computed, a verdict line. */
class AttentionBenchmarkTest {
    @Test
    void reportsEveryVariantWithItsScoreBytesAndAVerdict() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long budget = 16 << 10; // 16 KiB: 8-row chunks at (B*N=2, S=128)
        List<AttentionBenchmark.Row> rows;
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            rows = new AttentionBenchmark(out, 2, 8, budget, 64).run(new int[] {64, 128}, false);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(6, rows.size(), text);
        for (AttentionBenchmark.Row r : rows) {
            assertTrue(r.seconds() > 0 && r.ofMatmul() > 0, r.toString());
            long full = 2L * 2 * r.s() * r.s() * 4; // scores + probabilities, float32
            switch (r.variant()) {
                case "fused" -> assertEquals(0, r.scoreBytes());
                case "unfused" -> assertEquals(full, r.scoreBytes());
                case "chunked" -> assertTrue(r.scoreBytes() <= budget && r.scoreBytes() < full, r.toString());
                default -> throw new AssertionError("unknown variant " + r);
            }
        }
        assertTrue(text.matches("(?s).*(PASS|MISS) fused attention S=64: .*"), text);
        assertTrue(text.matches("(?s).*(PASS|MISS) fused attention S=128: .*"), text);
        assertTrue(text.contains("max |fused - chunked|"), text);
        assertEquals(Ops.Mode.FUSED, Ops.mode(), "the benchmark restores the mode");
        assertEquals(Ops.DEFAULT_ATTENTION_BUDGET, Ops.attentionBudget(), "and the budget");
    }
}
