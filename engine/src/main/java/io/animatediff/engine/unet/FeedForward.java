package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
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

    /** (..., C) -> (..., C). */
    public NDArray forward(NDArray x) {
        return Scoped.forward(() -> out.forward(geglu.forward(x)));
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
