package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.animatediff.engine.nn.Module;

/** Ports diffusers.models.embeddings.Timesteps (get_timestep_embedding): sinusoidal, no weights. */
public final class Timesteps extends Module {
    private final int dim;
    private final boolean flipSinToCos;
    private final double freqShift;

    public Timesteps(int dim, boolean flipSinToCos, double freqShift) {
        this.dim = dim;
        this.flipSinToCos = flipSinToCos;
        this.freqShift = freqShift;
    }

    /** timesteps (B) -> (B, dim) on the timesteps' manager. */
    public NDArray forward(NDArray timesteps) {
        NDManager m = timesteps.getManager();
        int half = dim / 2;
        float[] freqs = new float[half];
        for (int i = 0; i < half; i++) {
            // exponent computed in float32 like the reference (torch.arange(..., dtype=float32))
            float exponent = (float) (-Math.log(10000.0) * i) / (float) (half - freqShift);
            freqs[i] = (float) Math.exp(exponent);
        }
        NDArray t = timesteps.toType(DataType.FLOAT32, false).reshape(-1, 1); // (B, 1)
        NDArray args = t.mul(m.create(freqs).reshape(1, half)); // (B, half)
        NDArray sin = args.sin();
        NDArray cos = args.cos();
        NDArray emb = flipSinToCos ? cos.concat(sin, 1) : sin.concat(cos, 1); // (B, 2*half)
        if (dim % 2 == 1) {
            emb = emb.concat(
                    m.zeros(new ai.djl.ndarray.types.Shape(emb.getShape().get(0), 1)), 1);
        }
        return emb;
    }
}
