package io.animatediff.engine.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Param;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Motion scale as ComfyUI-AnimateDiff-Evolved applies it (CrossAttentionMM: {@code k *= scale}): a
 * temporal attention at scale s equals the same attention whose to_k weight is multiplied by s.
 */
class MotionScaleTest {

    @Test
    void motionScaleMultipliesTheKeysAndOneIsTheReference() {
        try (NDManager m = NDManager.newBaseManager()) {
            VersatileAttention attn = new VersatileAttention(16, 2, 8, true);
            attn.initialize(m, 3);
            attn.computeBuffers(m);
            NDArray x = m.randomNormal(new Shape(3, 5, 16)); // ((B H W), F, C)
            float[] reference = attn.forward(x).toFloatArray();
            assertArrayEquals(reference, attn.forward(x, 1.0).toFloatArray(), "scale 1 is the reference");
            float[] scaled = attn.forward(x, 1.7).toFloatArray();
            assertFalse(Arrays.equals(reference, scaled), "scale 1.7 changes the attention");
            Param toK = attn.namedTensors().get("to_k.weight");
            NDArray original = toK.replace(toK.get().mul(1.7));
            float[] keysScaled = attn.forward(x).toFloatArray();
            toK.replace(original).close();
            assertEquals(reference.length, scaled.length);
            for (int i = 0; i < scaled.length; i++) {
                if (!(Math.abs(scaled[i] - keysScaled[i]) <= 1e-5 + 1e-5 * Math.abs(keysScaled[i]))) {
                    fail("element " + i + ": " + scaled[i] + " vs " + keysScaled[i]);
                }
            }
        }
    }
}
