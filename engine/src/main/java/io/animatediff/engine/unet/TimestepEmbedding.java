package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.ops.Ops;

/** Ports diffusers.models.embeddings.TimestepEmbedding: linear_1 -> SiLU -> linear_2. */
public final class TimestepEmbedding extends Module {
    final Linear linear1;
    final Linear linear2;

    public TimestepEmbedding(int in, int dim) {
        linear1 = child("linear_1", new Linear(in, dim, true));
        linear2 = child("linear_2", new Linear(dim, dim, true));
    }

    /** (B, in) -> (B, dim). */
    public NDArray forward(NDArray x) {
        return linear2.forward(Ops.silu(linear1.forward(x)));
    }
}
