package io.animatediff.engine.convert;

import java.util.Arrays;

/**
 * Block structure of a UNet2DConditionModel, the part of diffusers' UNet config that decides its
 * state-dict keys: {@code block_out_channels}, {@code layers_per_block}, which of
 * {@code down_block_types} / {@code up_block_types} are CrossAttn blocks,
 * {@code transformer_layers_per_block} and whether the mid block has an attention.
 *
 * <p>{@code blockOutChannels} is needed because a resnet has a {@code conv_shortcut} exactly when
 * its input and output widths differ. Down arrays are indexed by down block, up arrays by up block
 * (up block 0 is the deepest).
 */
public record UNetLayout(
        int numBlocks,
        int layersPerBlock,
        boolean[] downHasAttention,
        boolean[] upHasAttention,
        int transformerLayersPerBlock,
        boolean hasMidAttention,
        int[] blockOutChannels) {

    public UNetLayout {
        if (numBlocks < 1 || layersPerBlock < 1 || transformerLayersPerBlock < 1) {
            throw new IllegalArgumentException("UNetLayout needs numBlocks, layersPerBlock and"
                    + " transformerLayersPerBlock >= 1, got numBlocks=" + numBlocks + ", layersPerBlock="
                    + layersPerBlock + ", transformerLayersPerBlock=" + transformerLayersPerBlock);
        }
        if (downHasAttention.length != numBlocks
                || upHasAttention.length != numBlocks
                || blockOutChannels.length != numBlocks) {
            throw new IllegalArgumentException("UNetLayout with numBlocks=" + numBlocks
                    + " needs that many entries in downHasAttention " + Arrays.toString(downHasAttention)
                    + ", upHasAttention " + Arrays.toString(upHasAttention) + " and blockOutChannels "
                    + Arrays.toString(blockOutChannels));
        }
        for (int c : blockOutChannels) {
            if (c < 1) {
                throw new IllegalArgumentException(
                        "UNetLayout blockOutChannels must be positive, got " + Arrays.toString(blockOutChannels));
            }
        }
        downHasAttention = downHasAttention.clone();
        upHasAttention = upHasAttention.clone();
        blockOutChannels = blockOutChannels.clone();
    }

    /** Stable Diffusion 1.5: (320, 640, 1280, 1280), 2 layers, CrossAttnDown x3 + Down, Up + CrossAttnUp x3. */
    public static UNetLayout sd15() {
        return new UNetLayout(
                4,
                2,
                new boolean[] {true, true, true, false},
                new boolean[] {false, true, true, true},
                1,
                true,
                new int[] {320, 640, 1280, 1280});
    }

    @Override
    public boolean[] downHasAttention() {
        return downHasAttention.clone();
    }

    @Override
    public boolean[] upHasAttention() {
        return upHasAttention.clone();
    }

    @Override
    public int[] blockOutChannels() {
        return blockOutChannels.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UNetLayout l
                && numBlocks == l.numBlocks
                && layersPerBlock == l.layersPerBlock
                && transformerLayersPerBlock == l.transformerLayersPerBlock
                && hasMidAttention == l.hasMidAttention
                && Arrays.equals(downHasAttention, l.downHasAttention)
                && Arrays.equals(upHasAttention, l.upHasAttention)
                && Arrays.equals(blockOutChannels, l.blockOutChannels);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new int[] {
            numBlocks,
            layersPerBlock,
            transformerLayersPerBlock,
            hasMidAttention ? 1 : 0,
            Arrays.hashCode(downHasAttention),
            Arrays.hashCode(upHasAttention),
            Arrays.hashCode(blockOutChannels)
        });
    }

    @Override
    public String toString() {
        return "UNetLayout[numBlocks=" + numBlocks + ", layersPerBlock=" + layersPerBlock + ", downHasAttention="
                + Arrays.toString(downHasAttention) + ", upHasAttention=" + Arrays.toString(upHasAttention)
                + ", transformerLayersPerBlock=" + transformerLayersPerBlock + ", hasMidAttention="
                + hasMidAttention + ", blockOutChannels=" + Arrays.toString(blockOutChannels) + "]";
    }
}
