package io.animatediff.engine.convert;

import java.util.Arrays;

/**
 * Block structure of an AutoencoderKL, the part of diffusers' VAE config that decides its
 * state-dict keys: {@code block_out_channels} and {@code layers_per_block}. The encoder has
 * {@code layersPerBlock} resnets per down block, the decoder {@code layersPerBlock + 1} per up
 * block; {@code blockOutChannels} decides which resnets carry a {@code conv_shortcut}.
 */
public record VaeLayout(int numBlocks, int layersPerBlock, int[] blockOutChannels) {

    public VaeLayout {
        if (numBlocks < 1 || layersPerBlock < 1) {
            throw new IllegalArgumentException("VaeLayout needs numBlocks and layersPerBlock >= 1, got numBlocks="
                    + numBlocks + ", layersPerBlock=" + layersPerBlock);
        }
        if (blockOutChannels.length != numBlocks
                || Arrays.stream(blockOutChannels).anyMatch(c -> c < 1)) {
            throw new IllegalArgumentException("VaeLayout with numBlocks=" + numBlocks
                    + " needs that many positive blockOutChannels, got " + Arrays.toString(blockOutChannels));
        }
        blockOutChannels = blockOutChannels.clone();
    }

    /** Stable Diffusion 1.5's VAE: (128, 256, 512, 512), 2 layers per block. */
    public static VaeLayout sd15() {
        return new VaeLayout(4, 2, new int[] {128, 256, 512, 512});
    }

    @Override
    public int[] blockOutChannels() {
        return blockOutChannels.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VaeLayout l
                && numBlocks == l.numBlocks
                && layersPerBlock == l.layersPerBlock
                && Arrays.equals(blockOutChannels, l.blockOutChannels);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * numBlocks + layersPerBlock) + Arrays.hashCode(blockOutChannels);
    }

    @Override
    public String toString() {
        return "VaeLayout[numBlocks=" + numBlocks + ", layersPerBlock=" + layersPerBlock + ", blockOutChannels="
                + Arrays.toString(blockOutChannels) + "]";
    }
}
