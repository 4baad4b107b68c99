package io.animatediff.engine.training;

/**
 * Where image-model training takes its stills from: batch {@code index} is the same images on
 * every call (a seeded draw), so runs are reproducible.
 */
public interface ImageSource {
    /** S, the image side in pixels. */
    int size();

    /** Batch {@code index} of {@code n} images (n, 3, S, S) in [-1, 1], with captions. */
    ImageBatch batch(long index, int n);
}
