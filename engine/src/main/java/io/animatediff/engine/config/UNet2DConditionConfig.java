package io.animatediff.engine.config;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * The image UNet's architecture, read from a diffusers {@code unet/config.json}
 * (UNet2DConditionModel). Derived values are computed here; unsupported options are refused with
 * the offending value.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record UNet2DConditionConfig(
        @JsonProperty("in_channels") int inChannels,
        @JsonProperty("out_channels") int outChannels,
        @JsonProperty("block_out_channels") List<Integer> blockOutChannels,
        @JsonProperty("down_block_types") List<String> downBlockTypes,
        @JsonProperty("up_block_types") List<String> upBlockTypes,
        @JsonProperty("layers_per_block") int layersPerBlock,
        @JsonProperty("cross_attention_dim") int crossAttentionDim,

        @JsonProperty("attention_head_dim") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
        List<Integer> attentionHeadDim,

        @JsonProperty("num_attention_heads") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
        List<Integer> numAttentionHeads,

        @JsonProperty("norm_num_groups") int normNumGroups,
        @JsonProperty("norm_eps") double normEps,
        @JsonProperty("flip_sin_to_cos") boolean flipSinToCos,
        @JsonProperty("freq_shift") int freqShift,
        @JsonProperty("use_linear_projection") boolean useLinearProjection,
        @JsonProperty("transformer_layers_per_block") Integer transformerLayersPerBlock,
        @JsonProperty("act_fn") String actFn,
        @JsonProperty("sample_size") int sampleSize) {

    public static final String CROSS_ATTN_DOWN = "CrossAttnDownBlock2D";
    public static final String DOWN = "DownBlock2D";
    public static final String CROSS_ATTN_UP = "CrossAttnUpBlock2D";
    public static final String UP = "UpBlock2D";

    public UNet2DConditionConfig {
        int n = blockOutChannels == null ? 0 : blockOutChannels.size();
        if (n == 0) {
            throw new IllegalArgumentException("unet config: block_out_channels is missing or empty");
        }
        if (downBlockTypes == null || downBlockTypes.size() != n || upBlockTypes == null || upBlockTypes.size() != n) {
            throw new IllegalArgumentException("unet config: down_block_types " + downBlockTypes
                    + " and up_block_types "
                    + upBlockTypes + " must each have " + n + " entries (one per block_out_channels " + blockOutChannels
                    + ")");
        }
        for (String t : downBlockTypes) {
            if (!t.equals(CROSS_ATTN_DOWN)
                    && !t.equals(DOWN)
                    && !t.equals("CrossAttnDownBlock3D")
                    && !t.equals("DownBlock3D")) {
                throw new IllegalArgumentException("unet config: unsupported down block type '" + t + "' (supported: "
                        + CROSS_ATTN_DOWN + ", " + DOWN + ")");
            }
        }
        for (String t : upBlockTypes) {
            if (!t.equals(CROSS_ATTN_UP)
                    && !t.equals(UP)
                    && !t.equals("CrossAttnUpBlock3D")
                    && !t.equals("UpBlock3D")) {
                throw new IllegalArgumentException("unet config: unsupported up block type '" + t + "' (supported: "
                        + CROSS_ATTN_UP + ", " + UP + ")");
            }
        }
        if (attentionHeadDim == null || attentionHeadDim.isEmpty()) {
            attentionHeadDim = List.of(8);
        }
        if (attentionHeadDim.size() != 1 && attentionHeadDim.size() != n) {
            throw new IllegalArgumentException(
                    "unet config: attention_head_dim " + attentionHeadDim + " must be one number or " + n);
        }
        if (numAttentionHeads != null && numAttentionHeads.size() != 1 && numAttentionHeads.size() != n) {
            throw new IllegalArgumentException(
                    "unet config: num_attention_heads " + numAttentionHeads + " must be one number or " + n);
        }
        if (layersPerBlock < 1) {
            throw new IllegalArgumentException("unet config: layers_per_block must be >= 1, got " + layersPerBlock);
        }
        if (normNumGroups <= 0) {
            normNumGroups = 32;
        }
        if (normEps <= 0) {
            normEps = 1e-5;
        }
        if (transformerLayersPerBlock == null) {
            transformerLayersPerBlock = 1;
        }
        if (actFn == null) {
            actFn = "silu";
        }
        if (!actFn.equals("silu") && !actFn.equals("swish")) {
            throw new IllegalArgumentException("unet config: act_fn '" + actFn + "' is not supported (silu)");
        }
        for (int c : blockOutChannels) {
            if (c % normNumGroups != 0) {
                throw new IllegalArgumentException("unet config: block_out_channels " + blockOutChannels
                        + " must be divisible by norm_num_groups " + normNumGroups);
            }
        }
        blockOutChannels = List.copyOf(blockOutChannels);
        downBlockTypes = List.copyOf(downBlockTypes);
        upBlockTypes = List.copyOf(upBlockTypes);
        attentionHeadDim = List.copyOf(attentionHeadDim);
    }

    public int numBlocks() {
        return blockOutChannels.size();
    }

    public int channels(int block) {
        return blockOutChannels.get(block);
    }

    public boolean downHasAttention(int block) {
        return downBlockTypes.get(block).startsWith("CrossAttn");
    }

    public boolean upHasAttention(int block) {
        return upBlockTypes.get(block).startsWith("CrossAttn");
    }

    /**
     * Attention heads of down block {@code block} (diffusers' quirk: SD1.x's attention_head_dim 8
     * means 8 heads).
     */
    public int heads(int block) {
        List<Integer> h = numAttentionHeads != null ? numAttentionHeads : attentionHeadDim;
        return h.size() == 1 ? h.get(0) : h.get(block);
    }

    /** Time embedding width: 4 x the first block's channels. */
    public int timeEmbedDim() {
        return blockOutChannels.get(0) * 4;
    }

    /** Stable Diffusion 1.5 (runwayml/stable-diffusion-v1-5 unet/config.json). */
    public static UNet2DConditionConfig sd15() {
        return new UNet2DConditionConfig(
                4,
                4,
                List.of(320, 640, 1280, 1280),
                List.of(CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, DOWN),
                List.of(UP, CROSS_ATTN_UP, CROSS_ATTN_UP, CROSS_ATTN_UP),
                2,
                768,
                List.of(8),
                null,
                32,
                1e-5,
                true,
                0,
                false,
                1,
                "silu",
                64);
    }

    /** A tiny UNet of the same block structure for tests: channels (32, 64), 2 heads. */
    public static UNet2DConditionConfig tiny() {
        return new UNet2DConditionConfig(
                4,
                4,
                List.of(32, 64),
                List.of(CROSS_ATTN_DOWN, DOWN),
                List.of(UP, CROSS_ATTN_UP),
                1,
                32,
                List.of(2),
                null,
                8,
                1e-5,
                true,
                0,
                false,
                1,
                "silu",
                8);
    }
}
