package io.animatediff.engine.convert;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The keys of an SD1.5 original-LDM checkpoint, enumerated from the LDM module structure
 * (ldm/modules/diffusionmodules/openaimodel.py UNetModel, model.py Encoder/Decoder, FrozenCLIPEmbedder)
 * independently of the mapping code, so the table can be checked against it.
 */
final class LdmSd15Keys {
    private LdmSd15Keys() {}

    static List<String> unet() {
        List<String> k = new ArrayList<>();
        String p = "model.diffusion_model.";
        wb(k, p + "time_embed.0");
        wb(k, p + "time_embed.2");
        wb(k, p + "input_blocks.0.0");
        // input_blocks 1..11: ResBlock (+ SpatialTransformer) or Downsample (op)
        Set<Integer> downsample = Set.of(3, 6, 9);
        Set<Integer> shortcut = Set.of(4, 7);
        Set<Integer> attention = Set.of(1, 2, 4, 5, 7, 8);
        for (int n = 1; n <= 11; n++) {
            if (downsample.contains(n)) {
                wb(k, p + "input_blocks." + n + ".0.op");
                continue;
            }
            resBlock(k, p + "input_blocks." + n + ".0", shortcut.contains(n));
            if (attention.contains(n)) {
                spatialTransformer(k, p + "input_blocks." + n + ".1");
            }
        }
        resBlock(k, p + "middle_block.0", false);
        spatialTransformer(k, p + "middle_block.1");
        resBlock(k, p + "middle_block.2", false);
        // output_blocks 0..11: ResBlock with skip (always a shortcut), SpatialTransformer from 3 on,
        // Upsample after the last layer of the first three levels
        for (int n = 0; n <= 11; n++) {
            resBlock(k, p + "output_blocks." + n + ".0", true);
            if (n >= 3) {
                spatialTransformer(k, p + "output_blocks." + n + ".1");
            }
            if (n == 2) {
                wb(k, p + "output_blocks.2.1.conv");
            }
            if (n == 5 || n == 8) {
                wb(k, p + "output_blocks." + n + ".2.conv");
            }
        }
        wb(k, p + "out.0");
        wb(k, p + "out.2");
        return k;
    }

    static List<String> vae() {
        List<String> k = new ArrayList<>();
        String e = "first_stage_model.encoder.";
        wb(k, e + "conv_in");
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 2; j++) {
                // ch_mult (1, 2, 4, 4) x 128: widths change entering levels 1 and 2
                vaeBlock(k, e + "down." + i + ".block." + j, j == 0 && (i == 1 || i == 2));
            }
            if (i != 3) {
                wb(k, e + "down." + i + ".downsample.conv");
            }
        }
        mid(k, e + "mid");
        wb(k, e + "norm_out");
        wb(k, e + "conv_out");
        wb(k, "first_stage_model.quant_conv");
        wb(k, "first_stage_model.post_quant_conv");
        String d = "first_stage_model.decoder.";
        wb(k, d + "conv_in");
        mid(k, d + "mid");
        for (int i = 3; i >= 0; i--) {
            for (int j = 0; j < 3; j++) {
                // block_in 512 -> level widths 512, 512, 256, 128 for i = 3, 2, 1, 0
                vaeBlock(k, d + "up." + i + ".block." + j, j == 0 && (i == 1 || i == 0));
            }
            if (i != 0) {
                wb(k, d + "up." + i + ".upsample.conv");
            }
        }
        wb(k, d + "norm_out");
        wb(k, d + "conv_out");
        return k;
    }

    static List<String> text() {
        List<String> k = new ArrayList<>();
        String p = "cond_stage_model.transformer.text_model.";
        k.add(p + "embeddings.token_embedding.weight");
        k.add(p + "embeddings.position_embedding.weight");
        for (int l = 0; l < 12; l++) {
            String q = p + "encoder.layers." + l + ".";
            for (String s : List.of(
                    "self_attn.k_proj",
                    "self_attn.v_proj",
                    "self_attn.q_proj",
                    "self_attn.out_proj",
                    "layer_norm1",
                    "mlp.fc1",
                    "mlp.fc2",
                    "layer_norm2")) {
                wb(k, q + s);
            }
        }
        wb(k, p + "final_layer_norm");
        return k;
    }

    private static void resBlock(List<String> k, String p, boolean skip) {
        wb(k, p + ".in_layers.0");
        wb(k, p + ".in_layers.2");
        wb(k, p + ".emb_layers.1");
        wb(k, p + ".out_layers.0");
        wb(k, p + ".out_layers.3");
        if (skip) {
            wb(k, p + ".skip_connection");
        }
    }

    private static void spatialTransformer(List<String> k, String p) {
        wb(k, p + ".norm");
        wb(k, p + ".proj_in");
        String b = p + ".transformer_blocks.0.";
        for (String a : List.of("attn1", "attn2")) {
            k.add(b + a + ".to_q.weight");
            k.add(b + a + ".to_k.weight");
            k.add(b + a + ".to_v.weight");
            wb(k, b + a + ".to_out.0");
        }
        wb(k, b + "ff.net.0.proj");
        wb(k, b + "ff.net.2");
        wb(k, b + "norm1");
        wb(k, b + "norm2");
        wb(k, b + "norm3");
        wb(k, p + ".proj_out");
    }

    private static void vaeBlock(List<String> k, String p, boolean shortcut) {
        wb(k, p + ".norm1");
        wb(k, p + ".conv1");
        wb(k, p + ".norm2");
        wb(k, p + ".conv2");
        if (shortcut) {
            wb(k, p + ".nin_shortcut");
        }
    }

    private static void mid(List<String> k, String p) {
        vaeBlock(k, p + ".block_1", false);
        for (String s : List.of("norm", "q", "k", "v", "proj_out")) {
            wb(k, p + ".attn_1." + s);
        }
        vaeBlock(k, p + ".block_2", false);
    }

    private static void wb(List<String> k, String p) {
        k.add(p + ".weight");
        k.add(p + ".bias");
    }
}
