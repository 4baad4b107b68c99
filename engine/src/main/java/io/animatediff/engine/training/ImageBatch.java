package io.animatediff.engine.training;

import java.util.List;

/**
 * Still images with their captions, for image-model training.
 *
 * @param pixels (N, 3, S, S) row-major floats in [-1, 1]
 * @param captions (N) one caption per image
 */
public record ImageBatch(float[] pixels, List<String> captions) {
    public ImageBatch {
        captions = List.copyOf(captions);
        if (captions.isEmpty() || pixels.length % captions.size() != 0) {
            throw new IllegalArgumentException("an image batch needs one caption per image: " + pixels.length
                    + " floats for " + captions.size() + " captions");
        }
    }

    public int size() {
        return captions.size();
    }
}
