package io.animatediff.engine.convert;

import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * diffusers key -> original LDM key for the UNet, the VAE and the CLIP text encoder. Ports
 * diffusers' loaders/single_file_utils.py ({@code convert_ldm_unet_checkpoint},
 * {@code convert_ldm_vae_checkpoint}, {@code convert_ldm_clip_checkpoint},
 * {@code DIFFUSERS_TO_LDM_MAPPING}), written in the diffusers -> LDM direction so every diffusers key
 * has exactly one image and the table built from it can be checked for being a bijection. LDM keys
 * returned here carry no component prefix ({@code model.diffusion_model.} etc.).
 */
final class LdmNames {
    static final String UNET_PREFIX = "model.diffusion_model.";
    static final String VAE_PREFIX = "first_stage_model.";
    /** Prefix of the text encoder in LDM files; the CLIPTextModel's own keys follow it. */
    static final String TEXT_PREFIX = "cond_stage_model.transformer.";

    private LdmNames() {}

    /** The numbers the UNet renaming depends on: block count, resnets per down block, attention per up block. */
    record UNetNaming(int numBlocks, int layersPerBlock, boolean[] upHasAttention, boolean hasMidAttention) {
        static UNetNaming of(UNetLayout u) {
            return new UNetNaming(u.numBlocks(), u.layersPerBlock(), u.upHasAttention(), u.hasMidAttention());
        }

        /** Reads the numbers off a diffusers UNet key set; empty if it has no down_blocks.0.resnets. */
        static Optional<UNetNaming> infer(Collection<String> diffusersKeys) {
            int maxBlock = -1;
            int maxResnet = -1;
            Pattern block = Pattern.compile("^(?:down|up)_blocks\\.(\\d+)\\.");
            Pattern resnet = Pattern.compile("^down_blocks\\.0\\.resnets\\.(\\d+)\\.");
            for (String k : diffusersKeys) {
                Matcher b = block.matcher(k);
                if (b.find()) {
                    maxBlock = Math.max(maxBlock, Integer.parseInt(b.group(1)));
                }
                Matcher r = resnet.matcher(k);
                if (r.find()) {
                    maxResnet = Math.max(maxResnet, Integer.parseInt(r.group(1)));
                }
            }
            if (maxResnet < 0) {
                return Optional.empty();
            }
            boolean[] upAttn = new boolean[maxBlock + 1];
            boolean midAttn = false;
            for (String k : diffusersKeys) {
                midAttn |= k.startsWith("mid_block.attentions.");
                for (int i = 0; i <= maxBlock; i++) {
                    if (k.startsWith("up_blocks." + i + ".attentions.")) {
                        upAttn[i] = true;
                    }
                }
            }
            return Optional.of(new UNetNaming(maxBlock + 1, maxResnet + 1, upAttn, midAttn));
        }
    }

    /** An LDM key and how its tensor's shape relates to the diffusers one. */
    record Named(String ldmKey, LdmKeyTable.Reshape reshape) {}

    private static final Map<String, String> UNET_TOP = Map.of(
            "conv_in", "input_blocks.0.0",
            "time_embedding.linear_1", "time_embed.0",
            "time_embedding.linear_2", "time_embed.2",
            "conv_norm_out", "out.0",
            "conv_out", "out.2");

    // update_unet_resnet_ldm_to_diffusers, inverted
    private static final Map<String, String> UNET_RESNET = Map.of(
            "norm1", "in_layers.0",
            "conv1", "in_layers.2",
            "time_emb_proj", "emb_layers.1",
            "norm2", "out_layers.0",
            "conv2", "out_layers.3",
            "conv_shortcut", "skip_connection");

    // update_vae_attentions_ldm_to_diffusers, inverted
    private static final Map<String, String> VAE_ATTENTION = Map.of(
            "group_norm", "norm",
            "to_q", "q",
            "to_k", "k",
            "to_v", "v",
            "to_out.0", "proj_out");

    private static final Pattern TOP =
            Pattern.compile("^(conv_in|time_embedding\\.linear_[12]|conv_norm_out|conv_out)\\.(weight|bias)$");
    private static final Pattern DOWN =
            Pattern.compile("^down_blocks\\.(\\d+)\\.(resnets|attentions|downsamplers)\\.(\\d+)\\.(.+)$");
    private static final Pattern MID = Pattern.compile("^mid_block\\.(resnets|attentions)\\.(\\d+)\\.(.+)$");
    private static final Pattern UP =
            Pattern.compile("^up_blocks\\.(\\d+)\\.(resnets|attentions|upsamplers)\\.(\\d+)\\.(.+)$");
    private static final Pattern RESNET_PARAM = Pattern.compile("^([a-z_0-9]+)\\.(weight|bias)$");

    /**
     * The LDM key (without {@code model.diffusion_model.}) of a diffusers UNet key. Resnets of down
     * block i, layer j sit at {@code input_blocks.{(L+1)i+j+1}.0}, their attention at {@code .1}, the
     * downsampler at {@code input_blocks.{(L+1)(i+1)}.0.op}; up block i, layer j at
     * {@code output_blocks.{(L+1)i+j}.{0 resnet, 1 attention}}, its upsampler after the attention
     * ({@code .2.conv}) or, without one, at {@code .1.conv}; the mid block is
     * {@code middle_block.{0 resnet, 1 attention, 2 resnet}} (without the attention
     * {@code middle_block.{0, 1}}).
     *
     * @throws IllegalArgumentException for keys with no LDM counterpart (e.g. motion modules)
     */
    static String unet(String key, UNetNaming n) {
        int stride = n.layersPerBlock() + 1;
        Matcher m = TOP.matcher(key);
        if (m.matches()) {
            return UNET_TOP.get(m.group(1)) + "." + m.group(2);
        }
        m = DOWN.matcher(key);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(1));
            int j = Integer.parseInt(m.group(3));
            String rest = m.group(4);
            switch (m.group(2)) {
                case "resnets":
                    checkLayer(key, j, n.layersPerBlock());
                    return "input_blocks." + (stride * i + j + 1) + ".0." + unetResnetParam(key, rest);
                case "attentions":
                    checkLayer(key, j, n.layersPerBlock());
                    return "input_blocks." + (stride * i + j + 1) + ".1." + rest;
                default:
                    if (j != 0 || !rest.startsWith("conv.")) {
                        throw noLdmName(key, "a downsampler has only downsamplers.0.conv");
                    }
                    return "input_blocks." + (stride * (i + 1)) + ".0.op." + rest.substring("conv.".length());
            }
        }
        m = MID.matcher(key);
        if (m.matches()) {
            int j = Integer.parseInt(m.group(2));
            boolean resnet = m.group(1).equals("resnets");
            if (j > (resnet ? 1 : 0) || (!resnet && !n.hasMidAttention())) {
                throw noLdmName(
                        key, "the mid block has resnets 0 and 1" + (n.hasMidAttention() ? " and attention 0" : ""));
            }
            // middle_block.{0,1,2} = resnet, attention, resnet (without attention: resnet, resnet)
            int index = resnet ? (j == 0 ? 0 : (n.hasMidAttention() ? 2 : 1)) : 1;
            String rest = resnet ? unetResnetParam(key, m.group(3)) : m.group(3);
            return "middle_block." + index + "." + rest;
        }
        m = UP.matcher(key);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(1));
            int j = Integer.parseInt(m.group(3));
            String rest = m.group(4);
            if (i >= n.upHasAttention().length) {
                throw noLdmName(key, "the UNet has " + n.upHasAttention().length + " up blocks");
            }
            switch (m.group(2)) {
                case "resnets":
                    checkLayer(key, j, n.layersPerBlock() + 1);
                    return "output_blocks." + (stride * i + j) + ".0." + unetResnetParam(key, rest);
                case "attentions":
                    checkLayer(key, j, n.layersPerBlock() + 1);
                    return "output_blocks." + (stride * i + j) + ".1." + rest;
                default:
                    if (j != 0 || !rest.startsWith("conv.")) {
                        throw noLdmName(key, "an upsampler has only upsamplers.0.conv");
                    }
                    int slot = n.upHasAttention()[i] ? 2 : 1;
                    return "output_blocks." + (stride * i + n.layersPerBlock()) + "." + slot + "." + rest;
            }
        }
        throw noLdmName(key, "not a UNet2DConditionModel key of an SD1.x layout");
    }

    private static final Pattern VAE_TOP =
            Pattern.compile("^(encoder|decoder)\\.(conv_in|conv_out|conv_norm_out)\\.(weight|bias)$");
    private static final Pattern VAE_QUANT = Pattern.compile("^(quant_conv|post_quant_conv)\\.(weight|bias)$");
    private static final Pattern VAE_DOWN =
            Pattern.compile("^encoder\\.down_blocks\\.(\\d+)\\.(resnets|downsamplers)\\.(\\d+)\\.(.+)$");
    private static final Pattern VAE_UP =
            Pattern.compile("^decoder\\.up_blocks\\.(\\d+)\\.(resnets|upsamplers)\\.(\\d+)\\.(.+)$");
    private static final Pattern VAE_MID_RESNET =
            Pattern.compile("^(encoder|decoder)\\.mid_block\\.resnets\\.([01])\\.(.+)$");
    private static final Pattern VAE_MID_ATTN = Pattern.compile(
            "^(encoder|decoder)\\.mid_block\\.attentions\\.0\\.(group_norm|to_q|to_k|to_v|to_out\\.0)\\.(weight|bias)$");

    /**
     * The LDM key (without {@code first_stage_model.}) of a diffusers AutoencoderKL key. The decoder's
     * up blocks are numbered the other way round: diffusers {@code up_blocks.i} is LDM
     * {@code up.{numBlocks-1-i}}. Mid attention q/k/v/proj_out weights are 1x1 convs in LDM.
     */
    static Named vae(String key, int numBlocks) {
        Matcher m = VAE_TOP.matcher(key);
        if (m.matches()) {
            String name = m.group(2).equals("conv_norm_out") ? "norm_out" : m.group(2);
            return plain(m.group(1) + "." + name + "." + m.group(3));
        }
        m = VAE_QUANT.matcher(key);
        if (m.matches()) {
            return plain(key);
        }
        m = VAE_DOWN.matcher(key);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(1));
            int j = Integer.parseInt(m.group(3));
            if (m.group(2).equals("resnets")) {
                return plain("encoder.down." + i + ".block." + j + "." + vaeResnetParam(key, m.group(4)));
            }
            if (j != 0 || !m.group(4).startsWith("conv.")) {
                throw noLdmName(key, "a downsampler has only downsamplers.0.conv");
            }
            return plain("encoder.down." + i + ".downsample." + m.group(4));
        }
        m = VAE_UP.matcher(key);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(1));
            int j = Integer.parseInt(m.group(3));
            if (i >= numBlocks) {
                throw noLdmName(key, "the VAE has " + numBlocks + " up blocks");
            }
            int ldmBlock = numBlocks - 1 - i;
            if (m.group(2).equals("resnets")) {
                return plain("decoder.up." + ldmBlock + ".block." + j + "." + vaeResnetParam(key, m.group(4)));
            }
            if (j != 0 || !m.group(4).startsWith("conv.")) {
                throw noLdmName(key, "an upsampler has only upsamplers.0.conv");
            }
            return plain("decoder.up." + ldmBlock + ".upsample." + m.group(4));
        }
        m = VAE_MID_RESNET.matcher(key);
        if (m.matches()) {
            int k = Integer.parseInt(m.group(2));
            return plain(m.group(1) + ".mid.block_" + (k + 1) + "." + vaeResnetParam(key, m.group(3)));
        }
        m = VAE_MID_ATTN.matcher(key);
        if (m.matches()) {
            String part = m.group(2);
            String ldm = m.group(1) + ".mid.attn_1." + VAE_ATTENTION.get(part) + "." + m.group(3);
            boolean projection = !part.equals("group_norm") && m.group(3).equals("weight");
            return new Named(ldm, projection ? LdmKeyTable.Reshape.CONV1X1_TO_LINEAR : LdmKeyTable.Reshape.NONE);
        }
        throw noLdmName(key, "not an AutoencoderKL key");
    }

    /** The LDM key (without {@code cond_stage_model.transformer.}) of a CLIPTextModel key: unchanged. */
    static String text(String key) {
        if (!key.startsWith("text_model.")) {
            throw noLdmName(key, "CLIPTextModel keys start with text_model.");
        }
        return key;
    }

    private static String unetResnetParam(String key, String rest) {
        Matcher m = RESNET_PARAM.matcher(rest);
        if (!m.matches() || !UNET_RESNET.containsKey(m.group(1))) {
            throw noLdmName(key, "a resnet has " + UNET_RESNET.keySet());
        }
        return UNET_RESNET.get(m.group(1)) + "." + m.group(2);
    }

    private static String vaeResnetParam(String key, String rest) {
        Matcher m = RESNET_PARAM.matcher(rest);
        if (!m.matches()) {
            throw noLdmName(key, "a VAE resnet has norm1, conv1, norm2, conv2, conv_shortcut");
        }
        switch (m.group(1)) {
            case "norm1":
            case "conv1":
            case "norm2":
            case "conv2":
                return rest;
            case "conv_shortcut":
                return "nin_shortcut." + m.group(2);
            default:
                throw noLdmName(key, "a VAE resnet has norm1, conv1, norm2, conv2, conv_shortcut");
        }
    }

    private static void checkLayer(String key, int j, int count) {
        if (j >= count) {
            throw noLdmName(key, "this block has " + count + " layers");
        }
    }

    private static Named plain(String ldmKey) {
        return new Named(ldmKey, LdmKeyTable.Reshape.NONE);
    }

    private static IllegalArgumentException noLdmName(String key, String why) {
        return new IllegalArgumentException("no original-LDM name for '" + key + "': " + why);
    }
}
