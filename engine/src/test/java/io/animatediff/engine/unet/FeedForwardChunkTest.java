package io.animatediff.engine.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/**
 * The feed-forward in token chunks (diffusers' _chunked_feed_forward) gives the unchunked numbers,
 * for chunks that divide the tokens and for a ragged last chunk, in 3-d (B, S, C) and 2-d inputs.
 */
class FeedForwardChunkTest {

    @Test
    void chunksChangeNoValue() {
        try (NDManager m = NDManager.newBaseManager()) {
            int c = 16;
            FeedForward ff = new FeedForward(c);
            ff.initialize(m, 5);
            long perRow = 8L * c * 4;
            for (Shape shape : new Shape[] {new Shape(3, 10, c), new Shape(7, c)}) {
                NDArray x = m.randomNormal(shape);
                float[] whole = ff.forward(x, Long.MAX_VALUE).toFloatArray();
                for (long rows : new long[] {1, 4, 5, 29}) {
                    NDArray y = ff.forward(x, rows * perRow);
                    assertEquals(shape, y.getShape());
                    float[] chunked = y.toFloatArray();
                    for (int i = 0; i < whole.length; i++) {
                        if (!(Math.abs(chunked[i] - whole[i]) <= 1e-6 + 1e-6 * Math.abs(whole[i]))) {
                            fail(shape + ", " + rows + " rows a chunk, element " + i + ": " + chunked[i] + " vs "
                                    + whole[i]);
                        }
                    }
                }
            }
        }
    }
}
