package io.animatediff.engine.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.nn.Param;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Full-size architectures counted from shapes alone: the cheapest proof every layer is present. */
class ParameterCountTest {

    @Test
    void sd15UnetHasThePublishedParameterCount() {
        assertEquals(859_520_964L, new UNet3DConditionModel(UNet2DConditionConfig.sd15(), null).parameterCount());
    }

    @Test
    void motionModulesV1AndV2HaveTheirParameterCounts() {
        long base = new UNet3DConditionModel(UNet2DConditionConfig.sd15(), null).parameterCount();
        long v1 = new UNet3DConditionModel(UNet2DConditionConfig.sd15(), MotionModuleConfig.v1()).parameterCount();
        long v2 = new UNet3DConditionModel(UNet2DConditionConfig.sd15(), MotionModuleConfig.v2()).parameterCount();
        long v3 = new UNet3DConditionModel(UNet2DConditionConfig.sd15(), MotionModuleConfig.v3()).parameterCount();
        assertEquals(417_137_600L, v1 - base);
        assertEquals(453_209_280L, v2 - base);
        assertEquals(v1 - base, v3 - base, "v3 has the v1 module layout (no mid block)");
    }

    @Test
    void eachMotionModuleHas22CSquaredPlus21CParameters() {
        MotionModuleConfig cfg = MotionModuleConfig.v2();
        for (int c : new int[] {320, 640, 1280}) {
            VanillaTemporalModule m = new VanillaTemporalModule(c, cfg, 768);
            assertEquals(22L * c * c + 21L * c, m.parameterCount(), "C=" + c);
        }
    }

    @Test
    void motionModuleKeysFollowTheOfficialCheckpointLayout() {
        UNet3DConditionModel unet = new UNet3DConditionModel(UNet2DConditionConfig.sd15(), MotionModuleConfig.v2());
        Map<String, Param> keys = unet.namedTensors();
        long modules = keys.keySet().stream()
                .filter(k -> k.endsWith("temporal_transformer.proj_out.weight"))
                .count();
        assertEquals(21, modules);
        String p = "up_blocks.3.motion_modules.2.temporal_transformer.";
        for (String k : new String[] {
            "norm.weight",
            "proj_in.bias",
            "transformer_blocks.0.attention_blocks.1.to_q.weight",
            "transformer_blocks.0.attention_blocks.0.to_out.0.bias",
            "transformer_blocks.0.attention_blocks.0.pos_encoder.pe",
            "transformer_blocks.0.norms.1.weight",
            "transformer_blocks.0.ff.net.0.proj.weight",
            "transformer_blocks.0.ff.net.2.weight",
            "transformer_blocks.0.ff_norm.bias",
            "proj_out.weight"
        }) {
            assertEquals(true, keys.containsKey(p + k), p + k);
        }
        assertEquals(
                320 * 8,
                keys.get(p + "transformer_blocks.0.ff.net.0.proj.weight")
                        .shape()
                        .get(0));
        assertEquals(
                32,
                keys.get(p + "transformer_blocks.0.attention_blocks.0.pos_encoder.pe")
                        .shape()
                        .get(1));
        assertEquals(true, keys.containsKey("mid_block.motion_modules.0.temporal_transformer.proj_out.bias"));
    }
}
