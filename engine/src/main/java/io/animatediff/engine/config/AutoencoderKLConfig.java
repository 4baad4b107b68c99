package io.animatediff.engine.config;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * The VAE's architecture, read from a diffusers {@code vae/config.json} (AutoencoderKL). Absent
 * optional fields take diffusers' defaults; {@code force_upcast}, {@code sample_size} and the SDXL/SD3
 * {@code latents_mean}/{@code latents_std} are ignored (this engine runs the VAE in float32; its
 * tile size is AutoencoderKL's animatediff.vae.tile, not sample_size). Unsupported block types and activations are refused with the offending value.
 *
 * @param scalingFactor latents enter the UNet as (z - shift) * scaling (0.18215 for SD1.x)
 * @param shiftFactor 0 when the config has none (SD1.x)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record AutoencoderKLConfig(
        @JsonProperty("in_channels") int inChannels,
        @JsonProperty("out_channels") int outChannels,
        @JsonProperty("down_block_types") List<String> downBlockTypes,
        @JsonProperty("up_block_types") List<String> upBlockTypes,
        @JsonProperty("block_out_channels") List<Integer> blockOutChannels,
        @JsonProperty("layers_per_block") int layersPerBlock,
        @JsonProperty("act_fn") String actFn,
        @JsonProperty("latent_channels") int latentChannels,
        @JsonProperty("norm_num_groups") int normNumGroups,
        @JsonProperty("scaling_factor") Double scalingFactor,
        @JsonProperty("shift_factor") Double shiftFactor,
        @JsonProperty("use_quant_conv") Boolean useQuantConv,
        @JsonProperty("use_post_quant_conv") Boolean usePostQuantConv,
        @JsonProperty("mid_block_add_attention") Boolean midBlockAddAttention) {

    public static final String DOWN_ENCODER = "DownEncoderBlock2D";
    public static final String UP_DECODER = "UpDecoderBlock2D";

    /** SD1.x's latent scaling (diffusers' default when config.json has no scaling_factor). */
    public static final double SD_SCALING_FACTOR = 0.18215;

    public AutoencoderKLConfig {
        int n = blockOutChannels == null ? 0 : blockOutChannels.size();
        if (n == 0) {
            throw new IllegalArgumentException("vae config: block_out_channels is missing or empty");
        }
        if (downBlockTypes == null || downBlockTypes.size() != n || upBlockTypes == null || upBlockTypes.size() != n) {
            throw new IllegalArgumentException("vae config: down_block_types " + downBlockTypes + " and up_block_types "
                    + upBlockTypes + " must each have " + n + " entries (one per block_out_channels "
                    + blockOutChannels + ")");
        }
        for (String t : downBlockTypes) {
            if (!t.equals(DOWN_ENCODER)) {
                throw new IllegalArgumentException(
                        "vae config: unsupported down block type '" + t + "' (supported: " + DOWN_ENCODER + ")");
            }
        }
        for (String t : upBlockTypes) {
            if (!t.equals(UP_DECODER)) {
                throw new IllegalArgumentException(
                        "vae config: unsupported up block type '" + t + "' (supported: " + UP_DECODER + ")");
            }
        }
        // 0 means absent from config.json: diffusers' defaults
        inChannels = inChannels == 0 ? 3 : inChannels;
        outChannels = outChannels == 0 ? 3 : outChannels;
        latentChannels = latentChannels == 0 ? 4 : latentChannels;
        layersPerBlock = layersPerBlock == 0 ? 1 : layersPerBlock;
        normNumGroups = normNumGroups == 0 ? 32 : normNumGroups;
        if (inChannels < 1 || outChannels < 1 || latentChannels < 1 || layersPerBlock < 1 || normNumGroups < 1) {
            throw new IllegalArgumentException("vae config: in_channels " + inChannels + ", out_channels " + outChannels
                    + ", latent_channels " + latentChannels + ", layers_per_block " + layersPerBlock
                    + ", norm_num_groups " + normNumGroups + " must all be >= 1");
        }
        for (int c : blockOutChannels) {
            if (c % normNumGroups != 0) {
                throw new IllegalArgumentException("vae config: block_out_channels " + blockOutChannels
                        + " must be divisible by norm_num_groups " + normNumGroups);
            }
        }
        if (actFn == null) {
            actFn = "silu";
        }
        if (!actFn.equals("silu") && !actFn.equals("swish")) {
            throw new IllegalArgumentException("vae config: act_fn '" + actFn + "' is not supported (silu)");
        }
        if (scalingFactor == null) {
            scalingFactor = SD_SCALING_FACTOR;
        }
        if (!(scalingFactor > 0) || Double.isInfinite(scalingFactor)) {
            throw new IllegalArgumentException(
                    "vae config: scaling_factor must be a positive number, got " + scalingFactor);
        }
        if (shiftFactor == null) {
            shiftFactor = 0.0;
        }
        useQuantConv = useQuantConv == null || useQuantConv;
        usePostQuantConv = usePostQuantConv == null || usePostQuantConv;
        midBlockAddAttention = midBlockAddAttention == null || midBlockAddAttention;
        blockOutChannels = List.copyOf(blockOutChannels);
        downBlockTypes = List.copyOf(downBlockTypes);
        upBlockTypes = List.copyOf(upBlockTypes);
    }

    public int numBlocks() {
        return blockOutChannels.size();
    }

    public int channels(int block) {
        return blockOutChannels.get(block);
    }

    /** Image pixels per latent pixel along each side: 2^(blocks - 1) (8 for SD). */
    public int downscale() {
        return 1 << (blockOutChannels.size() - 1);
    }

    /** Stable Diffusion 1.5 (runwayml/stable-diffusion-v1-5 vae/config.json). */
    public static AutoencoderKLConfig sd15() {
        return new AutoencoderKLConfig(
                3,
                3,
                List.of(DOWN_ENCODER, DOWN_ENCODER, DOWN_ENCODER, DOWN_ENCODER),
                List.of(UP_DECODER, UP_DECODER, UP_DECODER, UP_DECODER),
                List.of(128, 256, 512, 512),
                2,
                "silu",
                4,
                32,
                SD_SCALING_FACTOR,
                null,
                true,
                true,
                true);
    }

    /**
     * A tiny VAE with SD's block structure for tests: 4 blocks (downscale 8), channels (16, 32, 32,
     * 32), one resnet per encoder block, 8 groups, 4 latent channels.
     */
    public static AutoencoderKLConfig tiny() {
        return new AutoencoderKLConfig(
                3,
                3,
                List.of(DOWN_ENCODER, DOWN_ENCODER, DOWN_ENCODER, DOWN_ENCODER),
                List.of(UP_DECODER, UP_DECODER, UP_DECODER, UP_DECODER),
                List.of(16, 32, 32, 32),
                1,
                "silu",
                4,
                8,
                SD_SCALING_FACTOR,
                null,
                true,
                true,
                true);
    }
}
