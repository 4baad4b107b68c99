package io.animatediff.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Seeded Gaussian noise from libtorch's own CPU generator, so a seed gives the same numbers as
 * {@code torch.manual_seed(seed); torch.randn(shape)} in Python (and diffusers' CPU generators).
 * Seeds are unsigned 64-bit (published configs use seeds above Long.MAX_VALUE): pass the bit pattern.
 * The generator is process-global, so draws are serialised.
 */
public final class TorchRandom {
    private static final Object LOCK = new Object();

    private TorchRandom() {}

    /** N(0, 1) of {@code shape} (float32) on {@code manager}, from a generator reset to {@code seed}. */
    public static NDArray randn(NDManager manager, Shape shape, long unsignedSeed) {
        synchronized (LOCK) {
            JniUtils.setSeed(unsignedSeed);
            return manager.randomNormal(0f, 1f, shape, DataType.FLOAT32);
        }
    }

    /** Parses a decimal seed in [0, 2^64 - 1] to its unsigned bit pattern, with a clear error otherwise. */
    public static long parseSeed(String text) {
        try {
            return Long.parseUnsignedLong(text.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "seed '" + text + "' is not an integer in [0, 18446744073709551615]: pass an unsigned 64-bit seed",
                    e);
        }
    }
}
