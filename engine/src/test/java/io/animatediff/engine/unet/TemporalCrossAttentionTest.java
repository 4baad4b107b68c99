package io.animatediff.engine.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A Temporal_Cross VersatileAttention (official motion_module.py, attention_block_types ending in
 * "_Cross"): the official code repeats the text for every spatial position ("b n c -> (b d) n c") and
 * attends from each position's frames; ours lets the positions of one sample share a query sequence.
 * Both must give the same numbers.
 */
class TemporalCrossAttentionTest {

    @Test
    void sharedQueriesEqualTheOfficialTextRepeatedPerPosition() {
        try (NDManager m = NDManager.newBaseManager()) {
            int b = 2, hw = 6, f = 5, c = 16, s = 7, ctx = 12;
            VersatileAttention attn = new VersatileAttention(c, ctx, 2, 8, true);
            attn.initialize(m, 11);
            attn.computeBuffers(m);
            NDArray x = m.randomNormal(new Shape(b * hw, f, c)); // ((B H W), F, C)
            NDArray text = m.randomNormal(new Shape(b, s, ctx)); // (B, S, Cctx)
            float[] ours = attn.attend(x, text, 1.0).toFloatArray();
            // official: text repeated per position, attention from each position's F frames
            NDArray repeated = text.expandDims(1).repeat(1, hw).reshape(b * hw, s, ctx); // ((B H W), S, Cctx)
            float[] official =
                    attn.forward(attn.posEncoder.forward(x), repeated, 1.0).toFloatArray();
            assertEquals(official.length, ours.length);
            for (int i = 0; i < ours.length; i++) {
                if (!(Math.abs(ours[i] - official[i]) <= 1e-5 + 1e-5 * Math.abs(official[i]))) {
                    fail("element " + i + ": " + ours[i] + " vs " + official[i]);
                }
            }
            assertThrows(IllegalStateException.class, () -> attn.forward(x, 1.0), "a cross attention needs text");
        }
    }

    @Test
    void theBlockTypesAreChecked() {
        MotionModuleConfig tiny = MotionModuleConfig.tiny(false);
        assertEquals(MotionModuleConfig.SELF_SELF, tiny.attentionBlockTypes(), "released modules: two self");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> tiny.withAttentionBlockTypes(List.of("Temporal_Self", "Spatial")));
        assertTrue(e.getMessage().contains("Temporal_Cross"), e.getMessage());
        assertTrue(tiny.withAttentionBlockTypes(List.of("Temporal_Self", "Temporal_Cross"))
                .attendsToText());
    }
}
