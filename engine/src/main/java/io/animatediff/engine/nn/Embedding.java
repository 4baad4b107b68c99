package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;

/** Ports torch.nn.Embedding: weight (V, C). */
public final class Embedding extends Module {
    public final Param weight;

    public Embedding(long count, long dim) {
        weight = param("weight", Param.Init.NORMAL, 0, count, dim);
    }

    /** ids (B, S) int64 -> (B, S, C). The result lives on the ids' manager. */
    public NDArray forward(NDArray ids) {
        NDArray flat = ids.flatten(); // (B*S)
        NDArray rows = weight.get().get(flat); // gather rows
        rows.attach(ids.getManager());
        NDArray out = rows.reshape(ids.getShape()
                .addAll(new ai.djl.ndarray.types.Shape(weight.shape().get(1))));
        return out;
    }
}
