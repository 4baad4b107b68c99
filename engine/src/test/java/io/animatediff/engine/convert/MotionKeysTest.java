package io.animatediff.engine.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class MotionKeysTest {

    /** diffusers' convert_motion_module (scripts/convert_animatediff_motion_module_to_diffusers.py), literally. */
    private static String referenceConvert(String k) {
        return k.replace(".norms.0", ".norm1")
                .replace(".norms.1", ".norm2")
                .replace(".ff_norm", ".norm3")
                .replace(".attention_blocks.0", ".attn1")
                .replace(".attention_blocks.1", ".attn2")
                .replace(".temporal_transformer", "");
    }

    @Test
    void everyKeyOfAll21ModulesConvertsBothWaysLikeTheReference() {
        List<String> official = DiffusersKeys.motionModules(UNetLayout.sd15(), true, false);
        assertEquals(21 * 26, official.size());
        List<String> diffusers = new ArrayList<>();
        for (String k : official) {
            String d = MotionKeys.toDiffusers(k);
            assertEquals(referenceConvert(k), d, k);
            assertEquals(k, MotionKeys.toOfficial(d), "round trip of " + k);
            diffusers.add(d);
        }
        assertEquals(official.size(), new HashSet<>(diffusers).size(), "conversion must be 1:1");
        assertTrue(MotionKeys.isOfficialLayout(official));
        assertFalse(MotionKeys.isDiffusersLayout(official));
        assertTrue(MotionKeys.isDiffusersLayout(diffusers));
        assertFalse(MotionKeys.isOfficialLayout(diffusers));
    }

    @Test
    void examples() {
        assertEquals(
                "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.to_q.weight",
                MotionKeys.toOfficial("down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.to_q.weight"));
        assertEquals(
                "up_blocks.3.motion_modules.2.temporal_transformer.transformer_blocks.0.attention_blocks.1.to_out.0.bias",
                MotionKeys.toOfficial("up_blocks.3.motion_modules.2.transformer_blocks.0.attn2.to_out.0.bias"));
        assertEquals(
                "mid_block.motion_modules.0.temporal_transformer.transformer_blocks.0.norms.1.weight",
                MotionKeys.toOfficial("mid_block.motion_modules.0.transformer_blocks.0.norm2.weight"));
        assertEquals(
                "down_blocks.2.motion_modules.1.temporal_transformer.transformer_blocks.0.ff_norm.bias",
                MotionKeys.toOfficial("down_blocks.2.motion_modules.1.transformer_blocks.0.norm3.bias"));
        assertEquals(
                "down_blocks.2.motion_modules.1.temporal_transformer.transformer_blocks.0.ff.net.0.proj.weight",
                MotionKeys.toOfficial("down_blocks.2.motion_modules.1.transformer_blocks.0.ff.net.0.proj.weight"));
        assertEquals(
                "up_blocks.0.motion_modules.0.temporal_transformer.proj_in.weight",
                MotionKeys.toOfficial("up_blocks.0.motion_modules.0.proj_in.weight"));
        assertEquals(
                "up_blocks.0.motion_modules.0.temporal_transformer.norm.bias",
                MotionKeys.toOfficial("up_blocks.0.motion_modules.0.norm.bias"));
        assertEquals(
                "down_blocks.1.motion_modules.0.proj_out.weight",
                MotionKeys.toDiffusers("down_blocks.1.motion_modules.0.temporal_transformer.proj_out.weight"));
        // module paths and LoRA keys convert too: the tail passes through
        assertEquals(
                "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.processor.to_q_lora.down.weight",
                MotionKeys.toOfficial(
                        "down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.processor.to_q_lora.down.weight"));
        assertEquals(
                "down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.to_q",
                MotionKeys.toDiffusers(
                        "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.to_q"));
    }

    @Test
    void positionalBuffersHaveNoCounterpart() {
        String official =
                "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.1.pos_encoder.pe";
        String diffusers = "down_blocks.0.motion_modules.0.transformer_blocks.0.pos_embed.pe";
        assertTrue(MotionKeys.isPositionalBuffer(official));
        assertTrue(MotionKeys.isPositionalBuffer(diffusers));
        assertFalse(MotionKeys.isPositionalBuffer("down_blocks.0.motion_modules.0.temporal_transformer.norm.weight"));
        var e = assertThrows(IllegalArgumentException.class, () -> MotionKeys.toDiffusers(official));
        assertTrue(e.getMessage().contains("isPositionalBuffer"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MotionKeys.toOfficial(diffusers));
        // with buffers, the official layout is still recognised
        assertTrue(MotionKeys.isOfficialLayout(DiffusersKeys.motionModules(UNetLayout.sd15(), true, true)));
    }

    @Test
    void refusesWhatItCannotConvert() {
        var e = assertThrows(
                IllegalArgumentException.class, () -> MotionKeys.toOfficial("down_blocks.0.resnets.0.conv1.weight"));
        assertTrue(e.getMessage().contains("not a motion-module key"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> MotionKeys.toOfficial("down_blocks.0.motion_modules.0.temporal_transformer.norm.weight"));
        assertTrue(e.getMessage().contains("already in the official layout"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> MotionKeys.toDiffusers("down_blocks.0.motion_modules.0.norm.weight"));
        assertTrue(e.getMessage().contains("not in the official layout"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> MotionKeys.toDiffusers(
                        "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.2.to_q.weight"));
        assertTrue(e.getMessage().contains("two attentions"), e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> MotionKeys.toOfficial("down_blocks.0.motion_modules.0.transformer_blocks.0.attn3.to_q.weight"));
        assertThrows(
                IllegalArgumentException.class,
                () -> MotionKeys.toOfficial("down_blocks.0.motion_modules.0.conv_in.weight"));
    }

    @Test
    void layoutDetection() {
        List<String> mixed = List.of(
                "down_blocks.0.motion_modules.0.temporal_transformer.norm.weight",
                "down_blocks.0.motion_modules.0.norm.bias");
        assertFalse(MotionKeys.isOfficialLayout(mixed));
        assertFalse(MotionKeys.isDiffusersLayout(mixed));
        assertFalse(MotionKeys.isOfficialLayout(List.of("conv_in.weight")));
        assertFalse(MotionKeys.isDiffusersLayout(List.of()));
        // keys outside motion modules are not judged
        assertTrue(MotionKeys.isOfficialLayout(
                List.of("conv_in.weight", "mid_block.motion_modules.0.temporal_transformer.proj_out.bias")));
        assertTrue(MotionKeys.isMotionKey("mid_block.motion_modules.0.norm.weight"));
        assertFalse(MotionKeys.isMotionKey("mid_block.attentions.0.norm.weight"));
    }
}
