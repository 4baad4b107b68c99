package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Random;

/**
 * Ports diffusers.models.lora.LoRALinearLayer (network_alpha None): a rank-r update up(down(x)) with
 * down (r, Cin) and up (Cout, r), both without bias; fresh layers start with down ~ N(0, 1/r^2) and
 * up = 0, so a new adapter leaves its layer's output unchanged. Keys {@code down.weight} and
 * {@code up.weight}, as in AnimateDiff's MotionLoRA files ({@code ...processor.to_q_lora.down.weight}).
 */
public final class LoRALinearLayer extends Module {
    final Linear down;
    final Linear up;
    public final int rank;

    public LoRALinearLayer(long in, long out, int rank) {
        if (rank < 1 || rank > Math.min(in, out)) {
            throw new IllegalArgumentException("LoRA rank " + rank + " must lie in [1, " + Math.min(in, out)
                    + "] for a " + in + " -> " + out + " projection");
        }
        this.rank = rank;
        down = child("down", new Linear(in, rank, false));
        up = child("up", new Linear(rank, out, false));
    }

    /** Fills the layer as diffusers does: down ~ N(0, (1/r)^2) from {@code seed}, up zero. */
    public void initializeFresh(NDManager manager, long seed) {
        Random gaussian = new Random(seed);
        float[] d = new float[Math.toIntExact(down.weight.shape().size())];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (gaussian.nextGaussian() / rank);
        }
        down.weight.set(manager.create(d, down.weight.shape()));
        up.weight.set(manager.zeros(up.weight.shape()));
    }

    /** down (r, Cin). */
    public Param downWeight() {
        return down.weight;
    }

    /** up (Cout, r). */
    public Param upWeight() {
        return up.weight;
    }

    /** x (..., Cin) -> (..., Cout). */
    public NDArray forward(NDArray x) {
        return up.forward(down.forward(x));
    }
}
