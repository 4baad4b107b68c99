package io.animatediff.engine.config;

import java.util.List;

/**
 * The motion modules inserted into the UNet (official configs/inference/inference-v*.yaml,
 * unet_additional_kwargs), plus the GroupNorm behaviour the caller chose.
 *
 * @param heads temporal attention heads (8)
 * @param transformerBlocks TemporalTransformerBlocks per module (1)
 * @param maxFrames length of the sinusoidal position table (24 for v1, 32 for v2/v3): caps frames
 * @param midBlock whether the mid block has a module (v2 only)
 * @param resolutions which down levels (1, 2, 4, 8 = 2^index) carry modules
 * @param normGroups GroupNorm groups inside each module (32)
 * @param motionNorm per-frame (official) or across-frames (diffusers) module GroupNorm
 * @param inflatedGroupNorm resnet GroupNorm per frame (v2/v3) instead of across frames (v1)
 * @param attentionBlockTypes the attentions of every TemporalTransformerBlock, in order (the official
 *     {@code attention_block_types}): {@value #TEMPORAL_SELF} across the frames of one position (every
 *     released module: two of them), or {@value #TEMPORAL_CROSS}, the frames of one position attending
 *     to the prompt's tokens (VersatileAttention with a cross_attention_dim, supported by the official
 *     code, used by no released module); null means two self-attentions
 */
public record MotionModuleConfig(
        String version,
        int heads,
        int transformerBlocks,
        int maxFrames,
        boolean midBlock,
        List<Integer> resolutions,
        int normGroups,
        MotionNorm motionNorm,
        boolean inflatedGroupNorm,
        List<String> attentionBlockTypes) {

    /** The official name of a temporal self-attention. */
    public static final String TEMPORAL_SELF = "Temporal_Self";

    /** The official name of a temporal attention to the text (cross-attention). */
    public static final String TEMPORAL_CROSS = "Temporal_Cross";

    /** Two temporal self-attentions, as every released module. */
    public static final List<String> SELF_SELF = List.of(TEMPORAL_SELF, TEMPORAL_SELF);

    /** Where the motion module's GroupNorm takes its statistics. */
    public enum MotionNorm {
        /** Per frame, as the official AnimateDiff code, and the two big UIs, normalise. */
        OFFICIAL,
        /** Across frames, as diffusers' AnimateDiffTransformer3D normalises (b, c, f, h, w). */
        DIFFUSERS;

        public static MotionNorm parse(String s) {
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "official" -> OFFICIAL;
                case "diffusers" -> DIFFUSERS;
                default ->
                    throw new IllegalArgumentException("motion norm '" + s
                            + "' is unknown: use 'official' (per frame) or 'diffusers' (across frames)");
            };
        }
    }

    public MotionModuleConfig {
        if (heads < 1 || transformerBlocks < 1 || maxFrames < 1 || normGroups < 1) {
            throw new IllegalArgumentException("motion module config: heads " + heads + ", transformer blocks "
                    + transformerBlocks + ", max frames " + maxFrames + ", norm groups " + normGroups
                    + " must all be >= 1");
        }
        resolutions = List.copyOf(resolutions);
        attentionBlockTypes = attentionBlockTypes == null ? SELF_SELF : List.copyOf(attentionBlockTypes);
        if (attentionBlockTypes.isEmpty()
                || attentionBlockTypes.stream().anyMatch(t -> !t.equals(TEMPORAL_SELF) && !t.equals(TEMPORAL_CROSS))) {
            throw new IllegalArgumentException("motion module attention_block_types " + attentionBlockTypes
                    + " must be a non-empty list of '" + TEMPORAL_SELF + "' and '" + TEMPORAL_CROSS + "'");
        }
        if (motionNorm == null) {
            motionNorm = MotionNorm.OFFICIAL;
        }
    }

    /** True if down level {@code block} (and its mirrored up level) carries motion modules. */
    public boolean atLevel(int block) {
        return resolutions.contains(1 << block);
    }

    public MotionModuleConfig withMaxFrames(int frames) {
        return new MotionModuleConfig(
                version,
                heads,
                transformerBlocks,
                frames,
                midBlock,
                resolutions,
                normGroups,
                motionNorm,
                inflatedGroupNorm,
                attentionBlockTypes);
    }

    public MotionModuleConfig withMotionNorm(MotionNorm norm) {
        return new MotionModuleConfig(
                version,
                heads,
                transformerBlocks,
                maxFrames,
                midBlock,
                resolutions,
                normGroups,
                norm,
                inflatedGroupNorm,
                attentionBlockTypes);
    }

    public MotionModuleConfig withMidBlock(boolean mid) {
        return new MotionModuleConfig(
                version,
                heads,
                transformerBlocks,
                maxFrames,
                mid,
                resolutions,
                normGroups,
                motionNorm,
                inflatedGroupNorm,
                attentionBlockTypes);
    }

    /** This config with the given attentions per transformer block (see {@link #attentionBlockTypes}). */
    public MotionModuleConfig withAttentionBlockTypes(List<String> types) {
        return new MotionModuleConfig(
                version,
                heads,
                transformerBlocks,
                maxFrames,
                midBlock,
                resolutions,
                normGroups,
                motionNorm,
                inflatedGroupNorm,
                types);
    }

    /** True if a transformer block attends to the prompt (a {@value #TEMPORAL_CROSS} attention). */
    public boolean attendsToText() {
        return attentionBlockTypes.contains(TEMPORAL_CROSS);
    }

    /** mm_sd_v14 / mm_sd_v15: 24 positions, no mid block, resnet GroupNorm across frames. */
    public static MotionModuleConfig v1() {
        return new MotionModuleConfig(
                "v1", 8, 1, 24, false, List.of(1, 2, 4, 8), 32, MotionNorm.OFFICIAL, false, SELF_SELF);
    }

    /** mm_sd_v15_v2: 32 positions, mid-block module, inflated (per-frame) GroupNorm. */
    public static MotionModuleConfig v2() {
        return new MotionModuleConfig(
                "v2", 8, 1, 32, true, List.of(1, 2, 4, 8), 32, MotionNorm.OFFICIAL, true, SELF_SELF);
    }

    /** v3_sd15_mm: as v2 without the mid-block module. */
    public static MotionModuleConfig v3() {
        return new MotionModuleConfig(
                "v3", 8, 1, 32, false, List.of(1, 2, 4, 8), 32, MotionNorm.OFFICIAL, true, SELF_SELF);
    }

    /** For the tiny test UNet: 8 heads over 32/64 channels, 8 groups. */
    public static MotionModuleConfig tiny(boolean midBlock) {
        return new MotionModuleConfig(
                "tiny", 8, 1, 32, midBlock, List.of(1, 2, 4, 8), 8, MotionNorm.OFFICIAL, true, SELF_SELF);
    }
}
