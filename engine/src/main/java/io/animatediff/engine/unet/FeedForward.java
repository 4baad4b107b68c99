package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;
import io.animatediff.engine.nn.Scoped;
import io.animatediff.engine.ops.Ops;

/**
 * Ports diffusers.models.attention.FeedForward with GEGLU: net = [GEGLU(proj: C -> 2*4C), Dropout,
 * Linear(4C, C)]; GEGLU splits its projection into value and gate and returns value * gelu(gate).
 */
public final class FeedForward extends Module {
    final GEGLU geglu;
    final Linear out;

    public FeedForward(int dim) {
        int inner = dim * 4;
        ModuleList<Module> net = child("net", new ModuleList<>());
        geglu = (GEGLU) net.add(new GEGLU(dim, inner));
        net.add(new Dropout());
        out = (Linear) net.add(new Linear(inner, dim, true));
    }

    /** System property: bytes of one feed-forward chunk's projection, 0 or less for none. */
    public static final String CHUNK_PROPERTY = "animatediff.feedforward.chunk";

    /**
     * Bytes the GEGLU projection (..., 8C) may take at once: larger inputs run in chunks of tokens,
     * as diffusers' {@code _chunked_feed_forward} (models/attention.py) does when forward chunking is
     * enabled. The projection, the gate's GELU and their product are 16 activations' worth, the
     * largest transient of a transformer block: at 512x512, 16 frames and CFG 2.7 GB at the first
     * level, 128 MiB chunked. Tokens are independent here, so chunks change no value. The system
     * property {@value #CHUNK_PROPERTY} sets it (bytes; 0 or less: never chunk).
     */
    public static final long CHUNK_BYTES = Long.getLong(CHUNK_PROPERTY, 64L << 20);

    /** (..., C) -> (..., C). */
    public NDArray forward(NDArray x) {
        return forward(x, CHUNK_BYTES);
    }

    /** (..., C) -> (..., C), the (..., 8C) projection at most {@code chunkBytes} at a time. */
    NDArray forward(NDArray x, long chunkBytes) {
        Shape shape = x.getShape();
        long c = shape.get(shape.dimension() - 1);
        long rows = shape.size() / c;
        long perRow = 8 * c * x.getDataType().getNumOfBytes();
        long chunkRows = Math.max(1, chunkBytes / perRow);
        if (chunkBytes <= 0 || rows <= chunkRows) {
            return Scoped.forward(() -> out.forward(geglu.forward(x)));
        }
        return Scoped.forward(() -> {
            NDArray flat = x.reshape(rows, c); // (N, C)
            NDList parts = new NDList();
            for (long r = 0; r < rows; r += chunkRows) {
                NDArray part = flat.get(new NDIndex("{}:{}", r, Math.min(rows, r + chunkRows)));
                parts.add(Scoped.forward(() -> out.forward(geglu.forward(part)))); // (n, C)
            }
            return NDArrays.concat(parts, 0).reshape(shape);
        });
    }

    /** Ports diffusers.models.activations.GEGLU. */
    static final class GEGLU extends Module {
        final Linear proj;

        GEGLU(int dim, int inner) {
            proj = child("proj", new Linear(dim, inner * 2, true));
        }

        /** (..., C) -> (..., 4C). */
        NDArray forward(NDArray x) {
            NDArray p = proj.forward(x); // (..., 8C)
            NDList halves = p.split(2, p.getShape().dimension() - 1); // value, gate
            return halves.get(0).mul(Ops.gelu(halves.get(1)));
        }
    }

    /** torch.nn.Dropout: no weights; inference and training here use p = 0. */
    static final class Dropout extends Module {}
}
