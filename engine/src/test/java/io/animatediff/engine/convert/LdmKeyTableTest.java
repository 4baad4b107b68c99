package io.animatediff.engine.convert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.convert.LdmKeyTable.IgnoredFamily;
import io.animatediff.engine.convert.LdmKeyTable.Mapped;
import io.animatediff.engine.convert.LdmKeyTable.Reshape;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LdmKeyTableTest {
    private static final LdmKeyTable TABLE = LdmKeyTable.sd15();

    @Test
    void tableIsABijectionOverTheDiffusersAndLdmKeyLists() {
        Map<Component, List<String>> diffusers = Map.of(
                Component.UNET, DiffusersKeys.unet(UNetLayout.sd15()),
                Component.VAE, DiffusersKeys.vae(VaeLayout.sd15()),
                Component.TEXT_ENCODER, DiffusersKeys.textEncoder(12));
        Map<Component, List<String>> ldm = Map.of(
                Component.UNET, LdmSd15Keys.unet(),
                Component.VAE, LdmSd15Keys.vae(),
                Component.TEXT_ENCODER, LdmSd15Keys.text());
        assertEquals(686, ldm.get(Component.UNET).size());
        assertEquals(248, ldm.get(Component.VAE).size());
        assertEquals(196, ldm.get(Component.TEXT_ENCODER).size());

        // every LDM key of an SD1.5 file maps, within its component, onto a distinct diffusers key
        for (Component c : Component.values()) {
            Set<String> images = new HashSet<>();
            for (String k : ldm.get(c)) {
                Mapped m = TABLE.map(k).orElseThrow(() -> new AssertionError("unmapped LDM key " + k));
                assertEquals(c, m.component(), k);
                assertTrue(images.add(m.diffusersKey()), "two LDM keys map onto " + m.diffusersKey());
                assertEquals(Optional.of(k), TABLE.ldmKeyOf(c, m.diffusersKey()), "round trip of " + k);
            }
            // ... and those images are exactly the diffusers keys of the model
            assertEquals(new HashSet<>(diffusers.get(c)), images, c + " images");
            assertEquals(new LinkedHashSet<>(ldm.get(c)), new HashSet<>(TABLE.expectedLdmKeys(c)), c + " expected");
        }
        assertEquals(686 + 248 + 196, TABLE.expectedLdmKeys().size());
    }

    @Test
    void specificKeysMapAsInTheReferenceConverter() {
        String u = "model.diffusion_model.";
        expect(u + "input_blocks.0.0.weight", Component.UNET, "conv_in.weight");
        expect(u + "time_embed.0.bias", Component.UNET, "time_embedding.linear_1.bias");
        expect(u + "time_embed.2.weight", Component.UNET, "time_embedding.linear_2.weight");
        expect(u + "out.0.weight", Component.UNET, "conv_norm_out.weight");
        expect(u + "out.2.bias", Component.UNET, "conv_out.bias");
        expect(u + "input_blocks.1.0.in_layers.0.weight", Component.UNET, "down_blocks.0.resnets.0.norm1.weight");
        expect(u + "input_blocks.2.0.in_layers.2.bias", Component.UNET, "down_blocks.0.resnets.1.conv1.bias");
        expect(
                u + "input_blocks.5.0.emb_layers.1.weight",
                Component.UNET,
                "down_blocks.1.resnets.1.time_emb_proj.weight");
        expect(u + "input_blocks.7.0.out_layers.0.bias", Component.UNET, "down_blocks.2.resnets.0.norm2.bias");
        expect(u + "input_blocks.11.0.out_layers.3.weight", Component.UNET, "down_blocks.3.resnets.1.conv2.weight");
        expect(
                u + "input_blocks.4.0.skip_connection.weight",
                Component.UNET,
                "down_blocks.1.resnets.0.conv_shortcut.weight");
        expect(
                u + "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
                Component.UNET,
                "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight");
        expect(u + "input_blocks.8.1.proj_in.weight", Component.UNET, "down_blocks.2.attentions.1.proj_in.weight");
        expect(u + "input_blocks.3.0.op.bias", Component.UNET, "down_blocks.0.downsamplers.0.conv.bias");
        expect(u + "input_blocks.9.0.op.weight", Component.UNET, "down_blocks.2.downsamplers.0.conv.weight");
        expect(u + "middle_block.0.in_layers.0.weight", Component.UNET, "mid_block.resnets.0.norm1.weight");
        expect(u + "middle_block.1.proj_out.weight", Component.UNET, "mid_block.attentions.0.proj_out.weight");
        expect(u + "middle_block.2.emb_layers.1.bias", Component.UNET, "mid_block.resnets.1.time_emb_proj.bias");
        expect(
                u + "output_blocks.0.0.skip_connection.bias",
                Component.UNET,
                "up_blocks.0.resnets.0.conv_shortcut.bias");
        expect(u + "output_blocks.2.1.conv.weight", Component.UNET, "up_blocks.0.upsamplers.0.conv.weight");
        expect(u + "output_blocks.3.1.norm.weight", Component.UNET, "up_blocks.1.attentions.0.norm.weight");
        expect(u + "output_blocks.5.2.conv.bias", Component.UNET, "up_blocks.1.upsamplers.0.conv.bias");
        expect(u + "output_blocks.8.2.conv.weight", Component.UNET, "up_blocks.2.upsamplers.0.conv.weight");
        expect(u + "output_blocks.8.0.out_layers.3.weight", Component.UNET, "up_blocks.2.resnets.2.conv2.weight");
        expect(
                u + "output_blocks.11.1.transformer_blocks.0.ff.net.0.proj.weight",
                Component.UNET,
                "up_blocks.3.attentions.2.transformer_blocks.0.ff.net.0.proj.weight");

        String v = "first_stage_model.";
        expect(v + "encoder.conv_in.weight", Component.VAE, "encoder.conv_in.weight");
        expect(v + "encoder.norm_out.bias", Component.VAE, "encoder.conv_norm_out.bias");
        expect(
                v + "encoder.down.1.block.0.nin_shortcut.weight",
                Component.VAE,
                "encoder.down_blocks.1.resnets.0.conv_shortcut.weight");
        expect(
                v + "encoder.down.2.downsample.conv.weight",
                Component.VAE,
                "encoder.down_blocks.2.downsamplers.0.conv.weight");
        expect(v + "encoder.mid.block_1.norm1.weight", Component.VAE, "encoder.mid_block.resnets.0.norm1.weight");
        expect(v + "decoder.mid.block_2.conv1.bias", Component.VAE, "decoder.mid_block.resnets.1.conv1.bias");
        expect(
                v + "decoder.up.0.block.0.nin_shortcut.weight",
                Component.VAE,
                "decoder.up_blocks.3.resnets.0.conv_shortcut.weight");
        expect(v + "decoder.up.3.block.2.conv2.weight", Component.VAE, "decoder.up_blocks.0.resnets.2.conv2.weight");
        expect(v + "decoder.up.3.upsample.conv.weight", Component.VAE, "decoder.up_blocks.0.upsamplers.0.conv.weight");
        expect(v + "decoder.up.1.upsample.conv.bias", Component.VAE, "decoder.up_blocks.2.upsamplers.0.conv.bias");
        expect(v + "quant_conv.weight", Component.VAE, "quant_conv.weight");
        expect(v + "post_quant_conv.bias", Component.VAE, "post_quant_conv.bias");
        expect(v + "decoder.mid.attn_1.norm.weight", Component.VAE, "decoder.mid_block.attentions.0.group_norm.weight");
        expect(v + "decoder.mid.attn_1.q.bias", Component.VAE, "decoder.mid_block.attentions.0.to_q.bias");

        String t = "cond_stage_model.transformer.";
        expect(
                t + "text_model.embeddings.token_embedding.weight",
                Component.TEXT_ENCODER,
                "text_model.embeddings.token_embedding.weight");
        expect(
                t + "text_model.encoder.layers.3.self_attn.v_proj.bias",
                Component.TEXT_ENCODER,
                "text_model.encoder.layers.3.self_attn.v_proj.bias");
        expect(t + "text_model.final_layer_norm.weight", Component.TEXT_ENCODER, "text_model.final_layer_norm.weight");
        // the older spelling without text_model.
        expect(
                t + "encoder.layers.0.mlp.fc1.weight",
                Component.TEXT_ENCODER,
                "text_model.encoder.layers.0.mlp.fc1.weight");
        expect(
                t + "embeddings.position_embedding.weight",
                Component.TEXT_ENCODER,
                "text_model.embeddings.position_embedding.weight");
    }

    @Test
    void vaeAttentionProjectionsAreConv1x1InLdm() {
        for (String part : List.of("q", "k", "v", "proj_out")) {
            for (String half : List.of("encoder", "decoder")) {
                Mapped w = TABLE.map("first_stage_model." + half + ".mid.attn_1." + part + ".weight")
                        .orElseThrow();
                assertEquals(Reshape.CONV1X1_TO_LINEAR, w.reshape(), part);
                Mapped b = TABLE.map("first_stage_model." + half + ".mid.attn_1." + part + ".bias")
                        .orElseThrow();
                assertEquals(Reshape.NONE, b.reshape(), part);
            }
        }
        assertEquals(
                "encoder.mid_block.attentions.0.to_out.0.weight",
                TABLE.map("first_stage_model.encoder.mid.attn_1.proj_out.weight")
                        .orElseThrow()
                        .diffusersKey());
        long reshaped = TABLE.expectedLdmKeys().stream()
                .filter(k -> TABLE.map(k).orElseThrow().reshape() != Reshape.NONE)
                .count();
        assertEquals(8, reshaped, "q, k, v, proj_out weights of two mid attentions");
        assertArrayEquals(new long[] {512, 512}, Reshape.CONV1X1_TO_LINEAR.apply(new long[] {512, 512, 1, 1}, "q"));
        assertArrayEquals(new long[] {512, 512}, Reshape.CONV1X1_TO_LINEAR.apply(new long[] {512, 512, 1}, "q"));
        assertArrayEquals(new long[] {512, 512}, Reshape.CONV1X1_TO_LINEAR.apply(new long[] {512, 512}, "q"));
        assertArrayEquals(new long[] {3, 4, 5}, Reshape.NONE.apply(new long[] {3, 4, 5}, "x"));
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> Reshape.CONV1X1_TO_LINEAR.apply(new long[] {512, 512, 3, 3}, "first_stage_model.x.q.weight"));
        assertTrue(e.getMessage().contains("first_stage_model.x.q.weight")
                && e.getMessage().contains("[512, 512, 3, 3]"));
    }

    @Test
    void unetProjectionsKeepTheirShape() {
        // SD1.x proj_in / proj_out are 1x1 convs in both layouts (use_linear_projection false)
        assertEquals(
                Reshape.NONE,
                TABLE.map("model.diffusion_model.input_blocks.1.1.proj_in.weight")
                        .orElseThrow()
                        .reshape());
    }

    @Test
    void detectsLdmCheckpoints() {
        assertTrue(LdmKeyTable.isLdmCheckpoint(List.of("betas", "model.diffusion_model.out.2.bias")));
        assertFalse(LdmKeyTable.isLdmCheckpoint(List.of("conv_in.weight", "down_blocks.0.resnets.0.norm1.weight")));
        assertFalse(LdmKeyTable.isLdmCheckpoint(List.of()));
    }

    @Test
    void splitsAFullCheckpointWithIgnoredFamilies() {
        List<String> keys = new ArrayList<>(allLdmKeys());
        List<String> ignored = List.of(
                "model_ema.decay",
                "model_ema.num_updates",
                "model_ema.diffusion_modelinput_blocks00weight",
                "cond_stage_model.transformer.text_model.embeddings.position_ids",
                "betas",
                "alphas_cumprod",
                "alphas_cumprod_prev",
                "sqrt_alphas_cumprod",
                "sqrt_one_minus_alphas_cumprod",
                "log_one_minus_alphas_cumprod",
                "sqrt_recip_alphas_cumprod",
                "sqrt_recipm1_alphas_cumprod",
                "posterior_variance",
                "posterior_log_variance_clipped",
                "posterior_mean_coef1",
                "posterior_mean_coef2",
                "first_stage_model.loss.logvar",
                "first_stage_model.loss.discriminator.main.0.weight");
        keys.addAll(ignored);
        LdmKeyTable.Split split = TABLE.split(keys);
        assertTrue(split.isComplete(), split::toString);
        split.requireComplete("v1-5-pruned.safetensors");
        assertEquals(686, split.components().get(Component.UNET).size());
        assertEquals(248, split.components().get(Component.VAE).size());
        assertEquals(196, split.components().get(Component.TEXT_ENCODER).size());
        assertEquals(3, split.ignored().get(IgnoredFamily.EMA_WEIGHTS).size());
        assertEquals(1, split.ignored().get(IgnoredFamily.TEXT_POSITION_IDS).size());
        assertEquals(12, split.ignored().get(IgnoredFamily.SCHEDULER_BUFFERS).size());
        assertEquals(2, split.ignored().get(IgnoredFamily.VAE_TRAINING_LOSS).size());
        assertTrue(split.unexpected().isEmpty());
        for (IgnoredFamily f : IgnoredFamily.values()) {
            assertFalse(f.description().isBlank());
        }
    }

    @Test
    void reportsMissingUnexpectedAndConflictingKeys() {
        List<String> keys = new ArrayList<>(allLdmKeys());
        keys.removeIf(k -> k.startsWith("first_stage_model."));
        keys.remove("model.diffusion_model.output_blocks.5.2.conv.weight");
        keys.add("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight");
        keys.add("model.diffusion_model.label_emb.0.0.weight");
        keys.add("cond_stage_model.transformer.encoder.layers.0.mlp.fc1.weight"); // old spelling of a present key
        LdmKeyTable.Split split = TABLE.split(keys);
        assertFalse(split.isComplete());
        assertEquals(248, split.missing().get(Component.VAE).size());
        assertEquals(
                List.of("model.diffusion_model.output_blocks.5.2.conv.weight"),
                split.missing().get(Component.UNET));
        assertEquals(
                List.of(
                        "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight",
                        "model.diffusion_model.label_emb.0.0.weight"),
                split.unexpected());
        assertEquals(1, split.conflicts().size());
        assertTrue(split.conflicts().get(0).startsWith("cond_stage_model.transformer.encoder.layers.0.mlp.fc1.weight"));

        var e = assertThrows(IllegalArgumentException.class, () -> split.requireComplete("merged.safetensors"));
        String msg = e.getMessage();
        assertTrue(msg.startsWith("merged.safetensors does not match the SD1.x single-file layout"), msg);
        assertTrue(msg.contains("248 missing VAE keys, the file holds no VAE at all"), msg);
        assertTrue(msg.contains("1 missing UNET keys: model.diffusion_model.output_blocks.5.2.conv.weight"), msg);
        assertTrue(msg.contains("2 unexpected keys: conditioner.embedders.0"), msg);
        assertTrue(msg.contains("... and 228 more"), msg);
        assertTrue(msg.contains("load the missing component from a diffusers folder"), msg);
    }

    @Test
    void aFileWithoutVaeIsCompleteForTheOtherComponents() {
        List<String> keys = new ArrayList<>(allLdmKeys());
        keys.removeIf(k -> k.startsWith("first_stage_model."));
        LdmKeyTable.Split split = TABLE.split(keys);
        split.requireComplete("no-vae.safetensors", Set.of(Component.UNET, Component.TEXT_ENCODER));
        assertThrows(IllegalArgumentException.class, () -> split.requireComplete("no-vae.safetensors"));
    }

    @Test
    void tableFromModelKeysEqualsTheLayoutTableAndSkipsMotionModules() {
        List<String> unet = new ArrayList<>(DiffusersKeys.unet(UNetLayout.sd15()));
        unet.addAll(DiffusersKeys.motionModules(UNetLayout.sd15(), true, true));
        LdmKeyTable fromKeys = LdmKeyTable.of(unet, DiffusersKeys.vae(VaeLayout.sd15()), DiffusersKeys.textEncoder(12));
        assertEquals(TABLE.expectedLdmKeys(), fromKeys.expectedLdmKeys());
        for (String k : TABLE.expectedLdmKeys()) {
            assertEquals(TABLE.map(k), fromKeys.map(k), k);
        }
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> LdmKeyTable.of(
                        List.of("conv_in.weight", "down_blocks.0.resnets.0.norm1.weight", "foo.weight"),
                        List.of(),
                        List.of()));
        assertTrue(e.getMessage().contains("'foo.weight'"), e.getMessage());
    }

    @Test
    void otherLayoutsStayBijective() {
        // tiny test-sized UNet: 2 blocks, 1 layer, attention only in the deep down / shallow up block,
        // two transformer layers, no mid attention
        UNetLayout tiny = new UNetLayout(
                2, 1, new boolean[] {false, true}, new boolean[] {true, false}, 2, false, new int[] {32, 64});
        VaeLayout tinyVae = new VaeLayout(2, 1, new int[] {32, 64});
        LdmKeyTable t = LdmKeyTable.sd15(tiny, tinyVae, 2);
        List<String> unet = DiffusersKeys.unet(tiny);
        assertEquals(unet.size(), t.expectedLdmKeys(Component.UNET).size());
        assertEquals(
                DiffusersKeys.vae(tinyVae).size(),
                t.expectedLdmKeys(Component.VAE).size());
        for (String k : unet) {
            String ldm = t.ldmKeyOf(Component.UNET, k).orElseThrow();
            assertEquals(k, t.map(ldm).orElseThrow().diffusersKey());
        }
        String u = "model.diffusion_model.";
        // stride L + 1 = 2: down block 1 layer 0 -> input_blocks.3, its downsampler -> input_blocks.2
        assertEquals(
                Optional.of(u + "input_blocks.3.1.transformer_blocks.1.attn2.to_k.weight"),
                t.ldmKeyOf(Component.UNET, "down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight"));
        assertEquals(
                Optional.of(u + "input_blocks.2.0.op.weight"),
                t.ldmKeyOf(Component.UNET, "down_blocks.0.downsamplers.0.conv.weight"));
        // up block 0 has attention: upsampler after it at index 2
        assertEquals(
                Optional.of(u + "output_blocks.1.2.conv.weight"),
                t.ldmKeyOf(Component.UNET, "up_blocks.0.upsamplers.0.conv.weight"));
        // no mid attention: resnet, resnet
        assertEquals(
                Optional.of(u + "middle_block.1.in_layers.0.weight"),
                t.ldmKeyOf(Component.UNET, "mid_block.resnets.1.norm1.weight"));
        // VAE with 2 blocks: decoder up_blocks.0 is LDM up.1
        assertEquals(
                Optional.of("first_stage_model.decoder.up.1.upsample.conv.weight"),
                t.ldmKeyOf(Component.VAE, "decoder.up_blocks.0.upsamplers.0.conv.weight"));
    }

    @Test
    void keysWithoutLdmNameAreRefused() {
        var naming = LdmNames.UNetNaming.of(UNetLayout.sd15());
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> LdmNames.unet("down_blocks.0.motion_modules.0.temporal_transformer.norm.weight", naming));
        assertTrue(e.getMessage().contains("motion_modules"), e.getMessage());
        assertThrows(
                IllegalArgumentException.class, () -> LdmNames.unet("down_blocks.0.resnets.2.norm1.weight", naming));
        assertThrows(
                IllegalArgumentException.class, () -> LdmNames.unet("down_blocks.0.resnets.0.bogus.weight", naming));
        assertThrows(
                IllegalArgumentException.class, () -> LdmNames.unet("up_blocks.0.upsamplers.1.conv.weight", naming));
        assertThrows(
                IllegalArgumentException.class, () -> LdmNames.vae("encoder.mid_block.attentions.0.query.weight", 4));
        assertThrows(IllegalArgumentException.class, () -> LdmNames.text("embeddings.token_embedding.weight"));
        assertEquals(Optional.empty(), TABLE.map("model.diffusion_model.input_blocks.1.1.proj_in.weight.extra"));
    }

    private static void expect(String ldmKey, Component component, String diffusersKey) {
        Mapped m = TABLE.map(ldmKey).orElseThrow(() -> new AssertionError("unmapped " + ldmKey));
        assertEquals(component, m.component(), ldmKey);
        assertEquals(diffusersKey, m.diffusersKey(), ldmKey);
    }

    private static List<String> allLdmKeys() {
        List<String> keys = new ArrayList<>(LdmSd15Keys.unet());
        keys.addAll(LdmSd15Keys.vae());
        keys.addAll(LdmSd15Keys.text());
        return keys;
    }
}
