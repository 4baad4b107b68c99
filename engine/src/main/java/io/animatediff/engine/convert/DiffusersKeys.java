package io.animatediff.engine.convert;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The state-dict keys diffusers' models have for a given layout, block by block. Ports the
 * parameter structure of diffusers' UNet2DConditionModel (ResnetBlock2D, Transformer2DModel with
 * BasicTransformerBlock, Downsample2D, Upsample2D), AutoencoderKL (Encoder, Decoder,
 * UNetMidBlock2D with its Attention), transformers' CLIPTextModel, and the official AnimateDiff
 * VanillaTemporalModule.
 *
 * <p>Use it to build key tables without loading anything, and to compare a model built by the
 * engine against what a checkpoint must contain. Non-persistent buffers (CLIP {@code position_ids})
 * are not keys.
 */
public final class DiffusersKeys {
    private DiffusersKeys() {}

    /** Every key of a UNet2DConditionModel with this layout (SD1.5: 686 keys). */
    public static List<String> unet(UNetLayout u) {
        List<String> keys = new ArrayList<>();
        int n = u.numBlocks();
        int layers = u.layersPerBlock();
        int[] ch = u.blockOutChannels();
        boolean[] downAttn = u.downHasAttention();
        boolean[] upAttn = u.upHasAttention();
        int t = u.transformerLayersPerBlock();

        // 1. input
        weightBias(keys, "conv_in");
        weightBias(keys, "time_embedding.linear_1");
        weightBias(keys, "time_embedding.linear_2");

        // 2. down blocks: diffusers get_down_block, input width = previous block's output
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < layers; j++) {
                int in = j == 0 ? ch[Math.max(i - 1, 0)] : ch[i];
                unetResnet(keys, "down_blocks." + i + ".resnets." + j, in != ch[i]);
                if (downAttn[i]) {
                    transformer2d(keys, "down_blocks." + i + ".attentions." + j, t);
                }
            }
            if (i < n - 1) {
                weightBias(keys, "down_blocks." + i + ".downsamplers.0.conv");
            }
        }

        // 3. up blocks: diffusers get_up_block, resnet input = previous output (or own width) + skip
        int[] rev = reversed(ch);
        for (int i = 0; i < n; i++) {
            int out = rev[i];
            int prevOut = rev[Math.max(i - 1, 0)];
            int skipIn = rev[Math.min(i + 1, n - 1)];
            for (int j = 0; j <= layers; j++) {
                int resIn = (j == 0 ? prevOut : out) + (j == layers ? skipIn : out);
                unetResnet(keys, "up_blocks." + i + ".resnets." + j, resIn != out);
                if (upAttn[i]) {
                    transformer2d(keys, "up_blocks." + i + ".attentions." + j, t);
                }
            }
            if (i < n - 1) {
                weightBias(keys, "up_blocks." + i + ".upsamplers.0.conv");
            }
        }

        // 4. mid block: resnet, attention, resnet at the deepest width (no shortcut)
        unetResnet(keys, "mid_block.resnets.0", false);
        if (u.hasMidAttention()) {
            transformer2d(keys, "mid_block.attentions.0", t);
        }
        unetResnet(keys, "mid_block.resnets.1", false);

        // 5. output
        weightBias(keys, "conv_norm_out");
        weightBias(keys, "conv_out");
        return Collections.unmodifiableList(keys);
    }

    /** Every key of an AutoencoderKL with this layout (SD1.5: 248 keys). */
    public static List<String> vae(VaeLayout v) {
        List<String> keys = new ArrayList<>();
        int n = v.numBlocks();
        int layers = v.layersPerBlock();
        int[] ch = v.blockOutChannels();

        // 1. encoder: conv_in, down blocks (DownEncoderBlock2D), mid block, norm, conv_out
        weightBias(keys, "encoder.conv_in");
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < layers; j++) {
                int in = j == 0 ? ch[Math.max(i - 1, 0)] : ch[i];
                vaeResnet(keys, "encoder.down_blocks." + i + ".resnets." + j, in != ch[i]);
            }
            if (i < n - 1) {
                weightBias(keys, "encoder.down_blocks." + i + ".downsamplers.0.conv");
            }
        }
        vaeMidBlock(keys, "encoder.mid_block");
        weightBias(keys, "encoder.conv_norm_out");
        weightBias(keys, "encoder.conv_out");

        // 2. quantisation convs between the two halves
        weightBias(keys, "quant_conv");
        weightBias(keys, "post_quant_conv");

        // 3. decoder: conv_in, mid block, up blocks (UpDecoderBlock2D, layers + 1 resnets), norm, conv_out
        weightBias(keys, "decoder.conv_in");
        vaeMidBlock(keys, "decoder.mid_block");
        int[] rev = reversed(ch);
        for (int i = 0; i < n; i++) {
            int prevOut = rev[Math.max(i - 1, 0)];
            for (int j = 0; j <= layers; j++) {
                int in = j == 0 ? prevOut : rev[i];
                vaeResnet(keys, "decoder.up_blocks." + i + ".resnets." + j, in != rev[i]);
            }
            if (i < n - 1) {
                weightBias(keys, "decoder.up_blocks." + i + ".upsamplers.0.conv");
            }
        }
        weightBias(keys, "decoder.conv_norm_out");
        weightBias(keys, "decoder.conv_out");
        return Collections.unmodifiableList(keys);
    }

    /** Every key of a CLIPTextModel with this many encoder layers (ViT-L/14, 12 layers: 196 keys). */
    public static List<String> textEncoder(int layers) {
        if (layers < 1) {
            throw new IllegalArgumentException("a CLIP text encoder needs at least 1 layer, got " + layers);
        }
        List<String> keys = new ArrayList<>();
        keys.add("text_model.embeddings.token_embedding.weight");
        keys.add("text_model.embeddings.position_embedding.weight");
        for (int l = 0; l < layers; l++) {
            String p = "text_model.encoder.layers." + l;
            for (String proj : List.of("k_proj", "v_proj", "q_proj", "out_proj")) {
                weightBias(keys, p + ".self_attn." + proj);
            }
            weightBias(keys, p + ".layer_norm1");
            weightBias(keys, p + ".mlp.fc1");
            weightBias(keys, p + ".mlp.fc2");
            weightBias(keys, p + ".layer_norm2");
        }
        weightBias(keys, "text_model.final_layer_norm");
        return Collections.unmodifiableList(keys);
    }

    /**
     * Key prefixes of the motion modules the official AnimateDiff UNet3DConditionModel places in a
     * UNet of this layout: {@code layersPerBlock} per down block, {@code layersPerBlock + 1} per up
     * block, one in the mid block if asked (v2). SD1.5: 20, or 21 with the mid block.
     */
    public static List<String> motionModulePrefixes(UNetLayout u, boolean midBlock) {
        List<String> prefixes = new ArrayList<>();
        for (int i = 0; i < u.numBlocks(); i++) {
            for (int j = 0; j < u.layersPerBlock(); j++) {
                prefixes.add("down_blocks." + i + ".motion_modules." + j);
            }
        }
        for (int i = 0; i < u.numBlocks(); i++) {
            for (int j = 0; j <= u.layersPerBlock(); j++) {
                prefixes.add("up_blocks." + i + ".motion_modules." + j);
            }
        }
        if (midBlock) {
            prefixes.add("mid_block.motion_modules.0");
        }
        return Collections.unmodifiableList(prefixes);
    }

    /**
     * Keys of every motion module in the official layout (VanillaTemporalModule with one
     * TemporalTransformerBlock of two Temporal_Self attentions), as in mm_sd_v15_v2.ckpt: 26 keys
     * per module, 28 with the {@code pos_encoder.pe} buffers.
     */
    public static List<String> motionModules(UNetLayout u, boolean midBlock, boolean positionalBuffers) {
        List<String> keys = new ArrayList<>();
        for (String prefix : motionModulePrefixes(u, midBlock)) {
            String tt = prefix + ".temporal_transformer";
            weightBias(keys, tt + ".norm");
            weightBias(keys, tt + ".proj_in");
            String block = tt + ".transformer_blocks.0";
            for (int a = 0; a < 2; a++) {
                String attn = block + ".attention_blocks." + a;
                keys.add(attn + ".to_q.weight");
                keys.add(attn + ".to_k.weight");
                keys.add(attn + ".to_v.weight");
                weightBias(keys, attn + ".to_out.0");
                if (positionalBuffers) {
                    keys.add(attn + ".pos_encoder.pe");
                }
            }
            weightBias(keys, block + ".norms.0");
            weightBias(keys, block + ".norms.1");
            weightBias(keys, block + ".ff.net.0.proj");
            weightBias(keys, block + ".ff.net.2");
            weightBias(keys, block + ".ff_norm");
            weightBias(keys, tt + ".proj_out");
        }
        return Collections.unmodifiableList(keys);
    }

    // ResnetBlock2D with a time embedding projection (UNet).
    private static void unetResnet(List<String> keys, String p, boolean shortcut) {
        weightBias(keys, p + ".norm1");
        weightBias(keys, p + ".conv1");
        weightBias(keys, p + ".time_emb_proj");
        weightBias(keys, p + ".norm2");
        weightBias(keys, p + ".conv2");
        if (shortcut) {
            weightBias(keys, p + ".conv_shortcut");
        }
    }

    // ResnetBlock2D with temb_channels=None (VAE).
    private static void vaeResnet(List<String> keys, String p, boolean shortcut) {
        weightBias(keys, p + ".norm1");
        weightBias(keys, p + ".conv1");
        weightBias(keys, p + ".norm2");
        weightBias(keys, p + ".conv2");
        if (shortcut) {
            weightBias(keys, p + ".conv_shortcut");
        }
    }

    // UNetMidBlock2D of the VAE: resnet, single-head Attention with group_norm, resnet.
    private static void vaeMidBlock(List<String> keys, String p) {
        vaeResnet(keys, p + ".resnets.0", false);
        String attn = p + ".attentions.0";
        weightBias(keys, attn + ".group_norm");
        weightBias(keys, attn + ".to_q");
        weightBias(keys, attn + ".to_k");
        weightBias(keys, attn + ".to_v");
        weightBias(keys, attn + ".to_out.0");
        vaeResnet(keys, p + ".resnets.1", false);
    }

    // Transformer2DModel: GroupNorm, proj_in, BasicTransformerBlocks (self-attn, cross-attn, GEGLU FF), proj_out.
    private static void transformer2d(List<String> keys, String p, int layers) {
        weightBias(keys, p + ".norm");
        weightBias(keys, p + ".proj_in");
        for (int t = 0; t < layers; t++) {
            String b = p + ".transformer_blocks." + t;
            weightBias(keys, b + ".norm1");
            attention(keys, b + ".attn1");
            weightBias(keys, b + ".norm2");
            attention(keys, b + ".attn2");
            weightBias(keys, b + ".norm3");
            weightBias(keys, b + ".ff.net.0.proj");
            weightBias(keys, b + ".ff.net.2");
        }
        weightBias(keys, p + ".proj_out");
    }

    // Attention without q/k/v bias, output projection with bias.
    private static void attention(List<String> keys, String p) {
        keys.add(p + ".to_q.weight");
        keys.add(p + ".to_k.weight");
        keys.add(p + ".to_v.weight");
        weightBias(keys, p + ".to_out.0");
    }

    private static void weightBias(List<String> keys, String p) {
        keys.add(p + ".weight");
        keys.add(p + ".bias");
    }

    private static int[] reversed(int[] a) {
        int[] r = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }
}
