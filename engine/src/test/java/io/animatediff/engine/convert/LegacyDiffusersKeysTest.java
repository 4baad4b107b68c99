package io.animatediff.engine.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class LegacyDiffusersKeysTest {

    @Test
    void renamesDeprecatedVaeAttentionNames() {
        for (String half : List.of("encoder", "decoder")) {
            String p = half + ".mid_block.attentions.0.";
            assertEquals(p + "to_q.weight", LegacyDiffusersKeys.rename(p + "query.weight"));
            assertEquals(p + "to_q.bias", LegacyDiffusersKeys.rename(p + "query.bias"));
            assertEquals(p + "to_k.weight", LegacyDiffusersKeys.rename(p + "key.weight"));
            assertEquals(p + "to_v.bias", LegacyDiffusersKeys.rename(p + "value.bias"));
            assertEquals(p + "to_out.0.weight", LegacyDiffusersKeys.rename(p + "proj_attn.weight"));
            assertEquals(p + "to_out.0.bias", LegacyDiffusersKeys.rename(p + "proj_attn.bias"));
            assertEquals(p + "group_norm.weight", LegacyDiffusersKeys.rename(p + "group_norm.weight"));
            assertTrue(LegacyDiffusersKeys.isLegacy(p + "value.weight"));
        }
    }

    @Test
    void leavesEverythingElseAlone() {
        for (String k : List.of(
                "decoder.mid_block.attentions.0.to_q.weight",
                "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
                "text_model.encoder.layers.0.self_attn.k_proj.weight",
                "key.weight",
                "decoder.mid_block.resnets.0.conv1.weight")) {
            assertEquals(k, LegacyDiffusersKeys.rename(k));
            assertFalse(LegacyDiffusersKeys.isLegacy(k));
        }
        // every current VAE key is left unchanged
        for (String k : DiffusersKeys.vae(VaeLayout.sd15())) {
            assertEquals(k, LegacyDiffusersKeys.rename(k));
        }
    }
}
