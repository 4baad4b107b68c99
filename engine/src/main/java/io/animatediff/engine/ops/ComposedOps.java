package io.animatediff.engine.ops;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.IValue;

/**
 * The engine's ops composed from DJL's own operators: the portable fallback of {@link Ops} and the
 * reference its fused kernels are tested against. Every temporary and every result belongs to the
 * input's {@link NDManager} (never to a weight's, which lives as long as the model) and temporaries
 * are closed as soon as they are consumed.
 */
public final class ComposedOps {
    private ComposedOps() {}

    /**
     * GroupNorm composed from reshape/mean/sub/square/div, same contract as {@link
     * Ops#groupNorm}; x (N, C, *), weight and bias (C).
     */
    public static NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, double eps) {
        Shape shape = x.getShape();
        long n = shape.get(0);
        long c = shape.get(1);
        NDManager manager = x.getManager();
        NDArray g = x.reshape(n, groups, -1); // (N, G, C/G * rest)
        NDArray mean = g.mean(new int[] {2}, true); // (N, G, 1)
        NDArray centered = g.sub(mean); // (N, G, C/G * rest)
        close(g, mean);
        NDArray squared = centered.square();
        NDArray var = squared.mean(new int[] {2}, true); // (N, G, 1)
        squared.close();
        NDArray std = var.add(eps).sqrt(); // (N, G, 1)
        NDArray normed = centered.div(std); // (N, G, C/G * rest)
        close(centered, var, std);
        // The affine runs channels-last so that x's array comes first in every op and the weight
        // is never reshaped (a reshape would create an array on the weight's manager).
        NDArray channels = normed.reshape(n, c, -1); // (N, C, rest)
        normed.close();
        NDArray last = channels.swapAxes(1, 2); // (N, rest, C), a view
        NDArray w = onManager(weight, manager);
        NDArray b = onManager(bias, manager);
        NDArray scaled = last.mul(w); // (N, rest, C)
        NDArray shifted = scaled.add(b); // (N, rest, C)
        close(channels, last, scaled);
        closeAlias(w, weight);
        closeAlias(b, bias);
        NDArray back = shifted.swapAxes(1, 2); // (N, C, rest)
        NDArray out = back.reshape(shape); // (N, C, *)
        close(shifted, back);
        return out;
    }

    /**
     * Attention softmax(q k^T / sqrt(D)) v in query chunks whose score and probability buffers fit
     * in {@code budgetBytes}: q (..., Sq, D), k (..., Sk, D), v (..., Sk, Dv) -> (..., Sq, Dv). With
     * a budget that holds all of Sq it is one unchunked pass.
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, long budgetBytes) {
        int rank = q.getShape().dimension();
        long sq = q.getShape().get(rank - 2);
        long rows = chunkRows(q.getShape(), k.getShape(), q.getDataType().getNumOfBytes(), budgetBytes);
        NDManager manager = q.getManager();
        NDArray kOnQ = onManager(k, manager);
        NDArray vOnQ = onManager(v, manager);
        NDArray kT = kOnQ.swapAxes(-1, -2); // (..., D, Sk), a view on q's manager
        try {
            if (rows >= sq) {
                return attentionChunk(q, kT, vOnQ);
            }
            int chunks = (int) ((sq + rows - 1) / rows);
            long[] splits = new long[chunks - 1];
            for (int i = 0; i < splits.length; i++) {
                splits[i] = (i + 1) * rows;
            }
            NDList queries = q.split(splits, rank - 2); // chunks of (..., rows, D), views
            NDList outputs = new NDList(chunks);
            for (NDArray chunk : queries) {
                outputs.add(attentionChunk(chunk, kT, vOnQ)); // (..., rows, Dv)
                chunk.close();
            }
            NDArray out = NDArrays.concat(outputs, rank - 2); // (..., Sq, Dv)
            outputs.close();
            return out;
        } finally {
            kT.close();
            closeAlias(kOnQ, k);
            closeAlias(vOnQ, v);
        }
    }

    /** Query rows per chunk so that the (..., rows, Sk) scores and probabilities fit the budget. */
    static long chunkRows(Shape q, Shape k, int bytesPerElement, long budgetBytes) {
        int rank = q.dimension();
        long batch = 1; // product of the broadcast leading axes of q and k
        for (int i = 0; i < rank - 2; i++) {
            int ki = i - (rank - k.dimension());
            long kd = ki >= 0 ? k.get(ki) : 1;
            batch *= Math.max(q.get(i), kd);
        }
        long sk = k.get(k.dimension() - 2);
        long bytesPerRow = 2L * batch * sk * bytesPerElement; // scores + probabilities
        return Math.max(1, budgetBytes / Math.max(1, bytesPerRow));
    }

    private static NDArray attentionChunk(NDArray q, NDArray kT, NDArray v) {
        long d = q.getShape().get(q.getShape().dimension() - 1);
        NDArray scaledQ = q.mul(1.0 / Math.sqrt(d)); // (..., rows, D)
        NDArray scores = scaledQ.matMul(kT); // (..., rows, Sk)
        scaledQ.close();
        NDArray probabilities = scores.softmax(-1); // (..., rows, Sk)
        scores.close();
        NDArray out = probabilities.matMul(v); // (..., rows, Dv)
        probabilities.close();
        return out;
    }

    /** SiLU composed as x * sigmoid(x). */
    public static NDArray silu(NDArray x) {
        NDArray sigmoid = Activation.sigmoid(x);
        NDArray out = x.mul(sigmoid);
        sigmoid.close();
        return out;
    }

    /**
     * The same tensor as {@code array} (shared storage and autograd history) as an array owned by
     * {@code manager}: the caller closes it with {@link #closeAlias}. Creates nothing on {@code
     * array}'s manager.
     */
    static NDArray onManager(NDArray array, NDManager manager) {
        if (array.getManager() == manager) {
            return array;
        }
        if (array instanceof PtNDArray pt && manager instanceof PtNDManager ptManager) {
            try (IValue value = IValue.from(pt)) {
                return value.toTensor(ptManager);
            }
        }
        return array;
    }

    /** Closes an alias made by {@link #onManager} unless it is the original array itself. */
    static void closeAlias(NDArray alias, NDArray original) {
        if (alias != original) {
            alias.close();
        }
    }

    private static void close(NDArray... arrays) {
        for (NDArray a : arrays) {
            a.close();
        }
    }
}
