package io.animatediff.engine.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LoraKeysTest {
    private static final Set<String> UNET = new HashSet<>(DiffusersKeys.unet(UNetLayout.sd15()));
    private static final Set<String> TE = new HashSet<>(DiffusersKeys.textEncoder(12));

    static {
        UNET.addAll(DiffusersKeys.motionModules(UNetLayout.sd15(), true, true));
    }

    private final Map<String, long[]> lora = new LinkedHashMap<>();

    private LoraKeysTest kohya(String name, long[] down, long[] up, boolean alpha) {
        lora.put(name + ".lora_down.weight", down);
        lora.put(name + ".lora_up.weight", up);
        if (alpha) {
            lora.put(name + ".alpha", new long[0]);
        }
        return this;
    }

    private LoraKeysTest pair(String downKey, String upKey, long[] down, long[] up) {
        lora.put(downKey, down);
        lora.put(upKey, up);
        return this;
    }

    private LoraPlan plan() {
        return LoraKeys.plan(lora, UNET, TE);
    }

    private String planError() {
        return assertThrows(IllegalArgumentException.class, this::plan).getMessage();
    }

    private static long[] s(long... dims) {
        return dims;
    }

    private static LoraTarget only(LoraPlan plan, String weightKey) {
        List<LoraTarget> hits = plan.targets().stream()
                .filter(t -> t.weightKey().equals(weightKey))
                .toList();
        assertEquals(1, hits.size(), "targets of " + weightKey + " in " + plan.targets());
        return hits.get(0);
    }

    @Test
    void kohyaWithDiffusersNames() {
        kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", s(4, 320), s(320, 4), true);
        kohya("lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_out_0", s(4, 320), s(320, 4), true);
        kohya("lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj", s(4, 1280), s(10240, 4), true);
        kohya("lora_unet_down_blocks_1_attentions_1_proj_in", s(4, 640, 1, 1), s(640, 4, 1, 1), true);
        kohya("lora_te_text_model_encoder_layers_0_self_attn_q_proj", s(4, 768), s(768, 4), true);
        kohya("lora_te_text_model_encoder_layers_11_mlp_fc1", s(4, 768), s(3072, 4), false);
        LoraPlan plan = plan();
        assertEquals(LoraPlan.Format.KOHYA, plan.format());
        assertEquals(6, plan.targets().size());
        LoraTarget q = only(plan, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight");
        assertEquals(Component.UNET, q.component());
        assertEquals(
                "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight", q.downKey());
        assertEquals("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight", q.upKey());
        assertEquals("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha", q.alphaKeyOrNull());
        assertEquals(4, q.rank());
        assertEquals(LoraTarget.Kind.LINEAR, q.kind());
        only(plan, "up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_out.0.weight");
        only(plan, "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight");
        assertEquals(
                LoraTarget.Kind.CONV,
                only(plan, "down_blocks.1.attentions.1.proj_in.weight").kind());
        LoraTarget te = only(plan, "text_model.encoder.layers.0.self_attn.q_proj.weight");
        assertEquals(Component.TEXT_ENCODER, te.component());
        LoraTarget fc1 = only(plan, "text_model.encoder.layers.11.mlp.fc1.weight");
        assertNull(fc1.alphaKeyOrNull(), "no alpha in the file: alpha = rank");
        assertEquals(1.0, fc1.alphaOverRank(null));
        assertEquals(2, plan.targets(Component.TEXT_ENCODER).size());
        assertEquals(4, plan.targets(Component.UNET).size());
    }

    @Test
    void kohyaWithLdmNames() {
        kohya("lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q", s(8, 320), s(320, 8), true);
        kohya("lora_unet_middle_block_1_transformer_blocks_0_attn2_to_k", s(8, 768), s(1280, 8), true);
        kohya("lora_unet_output_blocks_3_1_proj_out", s(8, 1280, 1, 1), s(1280, 8, 1, 1), true);
        kohya("lora_unet_output_blocks_11_1_transformer_blocks_0_ff_net_2", s(8, 1280), s(320, 8), true);
        // LoCon on convs, LDM spelling
        kohya("lora_unet_input_blocks_4_0_in_layers_2", s(8, 320, 3, 3), s(640, 8, 1, 1), true);
        kohya("lora_unet_input_blocks_4_0_emb_layers_1", s(8, 1280), s(640, 8), true);
        kohya("lora_unet_input_blocks_4_0_skip_connection", s(8, 320, 1, 1), s(640, 8, 1, 1), true);
        kohya("lora_unet_input_blocks_3_0_op", s(8, 320, 3, 3), s(320, 8, 1, 1), true);
        kohya("lora_unet_output_blocks_5_2_conv", s(8, 1280, 3, 3), s(1280, 8, 1, 1), true);
        kohya("lora_unet_output_blocks_2_1_conv", s(8, 1280, 3, 3), s(1280, 8, 1, 1), true);
        kohya("lora_unet_input_blocks_0_0", s(8, 4, 3, 3), s(320, 8, 1, 1), true);
        kohya("lora_unet_out_2", s(8, 320, 3, 3), s(4, 8, 1, 1), true);
        kohya("lora_unet_time_embed_0", s(8, 320), s(1280, 8), true);
        LoraPlan plan = plan();
        assertEquals(LoraPlan.Format.KOHYA_LDM, plan.format());
        assertEquals(13, plan.targets().size());
        only(plan, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight");
        only(plan, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
        only(plan, "up_blocks.1.attentions.0.proj_out.weight");
        only(plan, "up_blocks.3.attentions.2.transformer_blocks.0.ff.net.2.weight");
        LoraTarget conv1 = only(plan, "down_blocks.1.resnets.0.conv1.weight");
        assertEquals(LoraTarget.Kind.CONV, conv1.kind());
        assertEquals(8, conv1.rank());
        only(plan, "down_blocks.1.resnets.0.time_emb_proj.weight");
        only(plan, "down_blocks.1.resnets.0.conv_shortcut.weight");
        only(plan, "down_blocks.0.downsamplers.0.conv.weight");
        only(plan, "up_blocks.1.upsamplers.0.conv.weight");
        only(plan, "up_blocks.0.upsamplers.0.conv.weight");
        only(plan, "conv_in.weight");
        only(plan, "conv_out.weight");
        only(plan, "time_embedding.linear_1.weight");
    }

    @Test
    void loconWithDiffusersNamesAndRankDetection() {
        kohya("lora_unet_down_blocks_1_resnets_0_conv1", s(16, 320, 3, 3), s(640, 16, 1, 1), true);
        kohya("lora_unet_down_blocks_1_resnets_0_conv_shortcut", s(16, 320, 1, 1), s(640, 16, 1, 1), false);
        kohya("lora_unet_up_blocks_0_resnets_2_time_emb_proj", s(16, 1280), s(1280, 16), true);
        LoraPlan plan = plan();
        assertEquals(LoraPlan.Format.KOHYA, plan.format());
        for (LoraTarget t : plan.targets()) {
            assertEquals(16, t.rank(), t.toString());
        }
        LoraTarget conv = only(plan, "down_blocks.1.resnets.0.conv1.weight");
        assertEquals(LoraTarget.Kind.CONV, conv.kind());
        assertEquals(0.5, conv.alphaOverRank(8.0));
        assertNull(only(plan, "down_blocks.1.resnets.0.conv_shortcut.weight").alphaKeyOrNull());
    }

    @Test
    void peft() {
        pair(
                "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight",
                "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight",
                s(4, 320),
                s(320, 4));
        pair(
                "unet.up_blocks.1.attentions.2.transformer_blocks.0.attn1.to_out.0.lora_A.weight",
                "unet.up_blocks.1.attentions.2.transformer_blocks.0.attn1.to_out.0.lora_B.weight",
                s(4, 1280),
                s(1280, 4));
        pair(
                "text_encoder.text_model.encoder.layers.5.self_attn.k_proj.lora_A.weight",
                "text_encoder.text_model.encoder.layers.5.self_attn.k_proj.lora_B.weight",
                s(4, 768),
                s(768, 4));
        lora.put("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.alpha", s());
        LoraPlan plan = plan();
        assertEquals(LoraPlan.Format.PEFT, plan.format());
        LoraTarget q = only(plan, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight");
        assertEquals("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.alpha", q.alphaKeyOrNull());
        assertNull(only(plan, "up_blocks.1.attentions.2.transformer_blocks.0.attn1.to_out.0.weight")
                .alphaKeyOrNull());
        assertEquals(
                Component.TEXT_ENCODER,
                only(plan, "text_model.encoder.layers.5.self_attn.k_proj.weight")
                        .component());
    }

    @Test
    void olderDiffusersFormats() {
        pair(
                "unet.down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.lora.down.weight",
                "unet.down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.lora.up.weight",
                s(4, 768),
                s(1280, 4));
        pair(
                "text_encoder.text_model.encoder.layers.0.mlp.fc2.lora_linear_layer.down.weight",
                "text_encoder.text_model.encoder.layers.0.mlp.fc2.lora_linear_layer.up.weight",
                s(4, 3072),
                s(768, 4));
        pair(
                "text_encoder.text_model.encoder.layers.0.self_attn.to_out_lora.down.weight",
                "text_encoder.text_model.encoder.layers.0.self_attn.to_out_lora.up.weight",
                s(4, 768),
                s(768, 4));
        pair(
                "unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_v_lora.down.weight",
                "unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_v_lora.up.weight",
                s(4, 1280),
                s(1280, 4));
        LoraPlan plan = plan();
        assertEquals(LoraPlan.Format.DIFFUSERS, plan.format());
        only(plan, "down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.weight");
        only(plan, "text_model.encoder.layers.0.mlp.fc2.weight");
        assertEquals(
                Component.TEXT_ENCODER,
                only(plan, "text_model.encoder.layers.0.self_attn.out_proj.weight")
                        .component());
        only(plan, "mid_block.attentions.0.transformer_blocks.0.attn1.to_v.weight");
    }

    @Test
    void motionLoraOfficialLayoutCoversAll21Modules() {
        int rank = 32;
        for (String module : DiffusersKeys.motionModulePrefixes(UNetLayout.sd15(), true)) {
            for (int a = 0; a < 2; a++) {
                String attn =
                        module + ".temporal_transformer.transformer_blocks.0.attention_blocks." + a + ".processor.";
                for (String proj : List.of("to_q", "to_k", "to_v", "to_out")) {
                    pair(
                            attn + proj + "_lora.down.weight",
                            attn + proj + "_lora.up.weight",
                            s(rank, 320),
                            s(320, rank));
                }
            }
        }
        lora.put(LoraKeys.ANIMATEDIFF_CONFIG, s());
        LoraPlan plan = plan();
        assertEquals(LoraPlan.Format.ANIMATEDIFF_MOTION_LORA, plan.format());
        assertEquals(21 * 2 * 4, plan.targets().size());
        LoraTarget out = only(
                plan,
                "up_blocks.3.motion_modules.2.temporal_transformer.transformer_blocks.0.attention_blocks.1.to_out.0.weight");
        assertEquals(rank, out.rank());
        assertNull(out.alphaKeyOrNull());
        assertEquals(
                "up_blocks.3.motion_modules.2.temporal_transformer.transformer_blocks.0.attention_blocks.1.processor.to_out_lora.down.weight",
                out.downKey());
        only(
                plan,
                "mid_block.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.to_q.weight");
    }

    @Test
    void motionLoraConvertedByDiffusersResolvesToOfficialKeys() {
        pair(
                "unet.down_blocks.0.motion_modules.1.transformer_blocks.0.attn2.processor.to_k_lora.down.weight",
                "unet.down_blocks.0.motion_modules.1.transformer_blocks.0.attn2.processor.to_k_lora.up.weight",
                s(8, 320),
                s(320, 8));
        LoraPlan plan = plan();
        assertEquals(LoraPlan.Format.ANIMATEDIFF_MOTION_LORA, plan.format());
        only(
                plan,
                "down_blocks.0.motion_modules.1.temporal_transformer.transformer_blocks.0.attention_blocks.1.to_k.weight");
    }

    @Test
    void kohyaNamesOfMotionModulesInEitherLayout() {
        kohya(
                "lora_unet_down_blocks_0_motion_modules_0_temporal_transformer_transformer_blocks_0_attention_blocks_0_to_q",
                s(4, 320),
                s(320, 4),
                true);
        kohya("lora_unet_up_blocks_1_motion_modules_2_transformer_blocks_0_attn2_to_v", s(4, 1280), s(1280, 4), true);
        LoraPlan plan = plan();
        only(
                plan,
                "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.to_q.weight");
        only(
                plan,
                "up_blocks.1.motion_modules.2.temporal_transformer.transformer_blocks.0.attention_blocks.1.to_v.weight");
    }

    @Test
    void domainAdapterOnSpatialAttentionIsDiffusersFormat() {
        pair(
                "down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.down.weight",
                "down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.up.weight",
                s(64, 320),
                s(320, 64));
        LoraPlan plan = plan();
        assertEquals(LoraPlan.Format.DIFFUSERS, plan.format());
        assertEquals(
                64,
                only(plan, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight")
                        .rank());
    }

    @Test
    void unresolvableNamesAreListed() {
        kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", s(4, 320), s(320, 4), true);
        kohya("lora_unet_down_blocks_9_attentions_0_proj_in", s(4, 320), s(320, 4), true);
        kohya(
                "lora_unet_input_blocks_1_1_transformer_blocks_1_attn1_to_q",
                s(4, 320),
                s(320, 4),
                true); // SDXL-like depth
        kohya("lora_te_text_model_encoder_layers_12_mlp_fc1", s(4, 768), s(3072, 4), true);
        pair("unet.nope.to_q.lora_A.weight", "unet.nope.to_q.lora_B.weight", s(4, 320), s(320, 4));
        String msg = planError();
        // 3 kohya names and 1 PEFT name
        assertTrue(msg.contains("4 LoRA modules name no module of the target model"), msg);
        assertTrue(msg.contains("'lora_unet_down_blocks_9_attentions_0_proj_in'"), msg);
        assertTrue(msg.contains("'lora_unet_input_blocks_1_1_transformer_blocks_1_attn1_to_q'"), msg);
        assertTrue(msg.contains("'lora_te_text_model_encoder_layers_12_mlp_fc1' (TEXT_ENCODER"), msg);
        assertTrue(msg.contains("not SDXL or SD2"), msg);
        assertTrue(msg.contains("'unet.nope.to_q' (no weight UNET 'nope.to_q.weight')"), msg);
        // the resolvable module is not reported
        assertTrue(!msg.contains("'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q'"), msg);
    }

    @Test
    void unknownKeysAreListed() {
        kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", s(4, 320), s(320, 4), true);
        lora.put("some.random.tensor", s(3));
        lora.put("lora_unet_foo.lora_middle.weight", s(3));
        String msg = planError();
        assertTrue(
                msg.contains("2 keys in no known LoRA layout: some.random.tensor, lora_unet_foo.lora_middle.weight"),
                msg);
    }

    @Test
    void unpairedAndMisshapedTensorsAreErrors() {
        lora.put("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight", s(4, 320));
        assertTrue(planError().contains("lacks its up tensor"));
        lora.clear();
        kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", s(4, 320), s(320, 8), true);
        assertTrue(planError().contains("rank mismatch"));
        lora.clear();
        kohya("lora_unet_down_blocks_1_resnets_0_conv1", s(4, 320, 3, 3), s(640, 4, 3, 3), true);
        assertTrue(planError().contains("expected (Cout, r, 1, 1) for a conv LoRA"));
        lora.clear();
        kohya("lora_unet_down_blocks_1_resnets_0_conv1", s(4, 320, 3, 3), s(640, 4), true);
        assertTrue(planError().contains("expected (Cout, r, 1, 1)"));
        lora.clear();
        kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", s(4, 320, 1), s(320, 4), true);
        assertTrue(planError().contains("expected (r, Cin) or (r, Cin, kh, kw)"));
        lora.clear();
        kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", s(4, 320), s(320, 4), false);
        lora.put("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha", s(4));
        assertTrue(planError().contains("expected a scalar alpha"));
        lora.clear();
        assertTrue(planError().contains("holds no LoRA tensors"));
    }

    @Test
    void twoModulesOnOneWeightAreAnError() {
        kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", s(4, 320), s(320, 4), true);
        kohya("lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q", s(4, 320), s(320, 4), true);
        String msg = planError();
        assertTrue(
                msg.contains("both target UNET 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight'"),
                msg);
    }

    @Test
    void mixedLayoutsAreRefused() {
        kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", s(4, 320), s(320, 4), true);
        pair(
                "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k.lora_A.weight",
                "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k.lora_B.weight",
                s(4, 320),
                s(320, 4));
        assertTrue(planError().contains("mixes key layouts [KOHYA, PEFT]"));
    }

    @Test
    void exoticFormatsAreRefusedByName() {
        lora.put("lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_a", s(4, 320));
        lora.put("lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_b", s(4, 320));
        String msg = planError();
        assertTrue(msg.contains("LyCORIS LoHa"), msg);
        assertTrue(msg.contains("lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_a"), msg);
        lora.clear();
        lora.put("lora_unet_down_blocks_0_resnets_0_conv1.lokr_w1", s(4, 4));
        assertTrue(planError().contains("LyCORIS LoKr"));
        lora.clear();
        kohya("lora_unet_down_blocks_1_resnets_0_conv1", s(4, 320, 3, 3), s(640, 4, 1, 1), true);
        lora.put("lora_unet_down_blocks_1_resnets_0_conv1.lora_mid.weight", s(4, 4, 3, 3));
        assertTrue(planError().contains("CP decomposition"));
        lora.clear();
        kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", s(4, 320), s(320, 4), true);
        lora.put("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.dora_scale", s(1, 320));
        assertTrue(planError().contains("DoRA"));
        lora.clear();
        kohya("lora_te1_text_model_encoder_layers_0_mlp_fc1", s(4, 768), s(3072, 4), true);
        assertTrue(planError().contains("SDXL"));
        lora.clear();
        lora.put("lora_unet_conv_in.diff", s(320, 4, 3, 3));
        assertTrue(planError().contains("full-rank difference"));
    }

    @Test
    void ambiguousUnderscoreNamesAreAnError() {
        Set<String> weird = Set.of("a_b.c.weight", "a.b_c.weight");
        lora.put("lora_unet_a_b_c.lora_down.weight", s(2, 8));
        lora.put("lora_unet_a_b_c.lora_up.weight", s(8, 2));
        var e = assertThrows(IllegalArgumentException.class, () -> LoraKeys.plan(lora, weird, Set.of()));
        assertTrue(e.getMessage().contains("is ambiguous"), e.getMessage());
        assertTrue(e.getMessage().contains("a_b.c.weight") && e.getMessage().contains("a.b_c.weight"), e.getMessage());
    }
}
