package io.animatediff.engine.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class DiffusersKeysTest {

    @Test
    void sd15UNetHas686DistinctKeys() {
        List<String> keys = DiffusersKeys.unet(UNetLayout.sd15());
        // Counted per block from the diffusers modules: resnet 10 tensors (+2 with conv_shortcut),
        // Transformer2DModel with one block 26, down/upsampler 2, conv_in + time MLP + out 10.
        int resnet = 10;
        int shortcut = 2;
        int attention = 26;
        int expected = 10
                + (8 * resnet + 2 * shortcut + 6 * attention + 3 * 2) // down: shortcuts in blocks 1, 2
                + (2 * resnet + attention) // mid
                + (12 * (resnet + shortcut) + 9 * attention + 3 * 2); // up: every resnet has a shortcut
        assertEquals(686, expected);
        assertEquals(expected, keys.size());
        assertEquals(keys.size(), new HashSet<>(keys).size(), "keys must be distinct");
    }

    @Test
    void shortcutsSitWhereWidthsChange() {
        var keys = new HashSet<>(DiffusersKeys.unet(UNetLayout.sd15()));
        assertFalse(keys.contains("down_blocks.0.resnets.0.conv_shortcut.weight"));
        assertTrue(keys.contains("down_blocks.1.resnets.0.conv_shortcut.weight"));
        assertTrue(keys.contains("down_blocks.2.resnets.0.conv_shortcut.weight"));
        assertFalse(keys.contains("down_blocks.3.resnets.0.conv_shortcut.weight"));
        assertFalse(keys.contains("down_blocks.1.resnets.1.conv_shortcut.weight"));
        assertFalse(keys.contains("mid_block.resnets.0.conv_shortcut.weight"));
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 3; j++) {
                assertTrue(keys.contains("up_blocks." + i + ".resnets." + j + ".conv_shortcut.bias"));
            }
        }
        assertFalse(keys.contains("down_blocks.3.downsamplers.0.conv.weight"));
        assertFalse(keys.contains("up_blocks.3.upsamplers.0.conv.weight"));
        assertFalse(keys.contains("down_blocks.3.attentions.0.norm.weight"));
        assertFalse(keys.contains("up_blocks.0.attentions.0.norm.weight"));
        assertTrue(keys.contains("up_blocks.3.attentions.2.transformer_blocks.0.ff.net.0.proj.weight"));
        assertFalse(keys.contains("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias"));
    }

    @Test
    void sd15VaeHas248DistinctKeys() {
        List<String> keys = DiffusersKeys.vae(VaeLayout.sd15());
        // encoder: conv_in 2, 8 resnets x 8 + 2 shortcuts x 2, 3 downsamplers x 2, mid 2x8 + 10, norm/conv_out 4
        int encoder = 2 + (8 * 8 + 2 * 2) + 3 * 2 + (2 * 8 + 10) + 4;
        // decoder: conv_in 2, mid 26, 12 resnets x 8 + 2 shortcuts x 2, 3 upsamplers x 2, norm/conv_out 4
        int decoder = 2 + 26 + (12 * 8 + 2 * 2) + 3 * 2 + 4;
        assertEquals(248, encoder + 4 + decoder);
        assertEquals(248, keys.size());
        assertEquals(keys.size(), new HashSet<>(keys).size());
        var set = new HashSet<>(keys);
        assertTrue(set.contains("encoder.down_blocks.1.resnets.0.conv_shortcut.weight"));
        assertTrue(set.contains("decoder.up_blocks.2.resnets.0.conv_shortcut.weight"));
        assertTrue(set.contains("decoder.up_blocks.3.resnets.0.conv_shortcut.weight"));
        assertFalse(set.contains("decoder.up_blocks.1.resnets.0.conv_shortcut.weight"));
        assertTrue(set.contains("decoder.up_blocks.0.resnets.2.conv2.bias"));
        assertTrue(set.contains("decoder.mid_block.attentions.0.to_out.0.weight"));
    }

    @Test
    void clipTextEncoderHas196Keys() {
        List<String> keys = DiffusersKeys.textEncoder(12);
        assertEquals(2 + 12 * 16 + 2, keys.size());
        assertEquals(196, new HashSet<>(keys).size());
        assertTrue(keys.contains("text_model.encoder.layers.11.self_attn.out_proj.bias"));
        assertFalse(keys.contains("text_model.embeddings.position_ids"), "position_ids is a non-persistent buffer");
        assertThrows(IllegalArgumentException.class, () -> DiffusersKeys.textEncoder(0));
    }

    @Test
    void v2MotionModulesAre21With26KeysEach() {
        List<String> prefixes = DiffusersKeys.motionModulePrefixes(UNetLayout.sd15(), true);
        assertEquals(21, prefixes.size());
        assertEquals(
                20, DiffusersKeys.motionModulePrefixes(UNetLayout.sd15(), false).size());
        assertTrue(prefixes.contains("up_blocks.3.motion_modules.2"));
        assertTrue(prefixes.contains("mid_block.motion_modules.0"));
        List<String> keys = DiffusersKeys.motionModules(UNetLayout.sd15(), true, false);
        assertEquals(21 * 26, keys.size());
        assertEquals(
                21 * 28,
                DiffusersKeys.motionModules(UNetLayout.sd15(), true, true).size());
        assertTrue(keys.contains("down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0"
                + ".attention_blocks.1.to_out.0.bias"));
    }

    @Test
    void layoutsValidateAndCopyArrays() {
        UNetLayout u = UNetLayout.sd15();
        u.blockOutChannels()[0] = 1;
        assertEquals(320, u.blockOutChannels()[0], "accessor must not expose the record's array");
        assertEquals(UNetLayout.sd15(), u);
        assertEquals(UNetLayout.sd15().hashCode(), u.hashCode());
        assertEquals(VaeLayout.sd15(), VaeLayout.sd15());
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> new UNetLayout(4, 2, new boolean[3], new boolean[4], 1, true, new int[] {1, 2, 3, 4}));
        assertTrue(e.getMessage().contains("numBlocks=4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new VaeLayout(2, 1, new int[] {128, 0}));
    }
}
