package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Param;

/**
 * Ports animatediff.models.motion_module.PositionalEncoding: the sinusoidal table pe (1, L, C) with
 * pe[:, :, 0::2] = sin(pos * 10000^(-2i/C)), pe[:, :, 1::2] = cos(...). A buffer: recomputed, never
 * read from checkpoints (the official loader skips it too); its length L caps the frame count.
 */
public final class PositionalEncoding extends Module {
    final Param pe;
    final int maxLen;
    final int dim;

    public PositionalEncoding(int dim, int maxLen) {
        this.dim = dim;
        this.maxLen = maxLen;
        pe = buffer("pe", 1, maxLen, dim);
    }

    @Override
    protected void fillBuffers(NDManager manager) {
        float[] table = new float[maxLen * dim];
        for (int pos = 0; pos < maxLen; pos++) {
            for (int i = 0; i < dim; i += 2) {
                // div_term = exp(arange(0, C, 2) * (-ln(10000) / C)), in float32 like torch
                float div = (float) Math.exp((float) i * (float) (-Math.log(10000.0) / dim));
                float angle = pos * div;
                table[pos * dim + i] = (float) Math.sin(angle);
                if (i + 1 < dim) {
                    table[pos * dim + i + 1] = (float) Math.cos(angle);
                }
            }
        }
        pe.set(manager.create(table, pe.shape()));
    }

    /** x (B', F, C) -> x + pe[:, :F]; F must not exceed the table length. */
    public NDArray forward(NDArray x) {
        long f = x.getShape().get(1);
        if (f > maxLen) {
            throw new IllegalArgumentException("motion module supports at most " + maxLen + " frames per call, got " + f
                    + ": generate <= " + maxLen + " frames, use context windows, or a module with a longer table");
        }
        NDArray slice = pe.get().get(new NDIndex(":, :{}", f)); // (1, F, C)
        slice.attach(x.getManager());
        return x.add(slice);
    }
}
