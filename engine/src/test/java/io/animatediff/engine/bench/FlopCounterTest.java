package io.animatediff.engine.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.animatediff.engine.ops.Ops;
import org.junit.jupiter.api.Test;

/**
 * The backward FLOPs {@link FlopCounter} counts during a grad-mode forward, against the count by
 * hand for toy graphs where only some weights require grad. Before session 6 the flags came from
 * DJL's {@code hasGradient()}, true for leaves only: every intermediate's input gradient was
 * missed (the second layer below counted 0).
 */
class FlopCounterTest {
    @Test
    void secondLayersInputGradientIsCountedWhenOnlyTheFirstWeightIsTrained() {
        NDManager m = NDManager.newBaseManager(); // loads the engine before any JniUtils call
        boolean before = JniUtils.isGradMode();
        try (m) {
            NDArray x = m.randomNormal(new Shape(4, 6)); // (rows, Cin) data: no grad
            NDArray w1 = m.randomNormal(new Shape(5, 6)); // trained
            w1.setRequiresGradient(true);
            NDArray w2 = m.randomNormal(new Shape(3, 5)); // frozen
            long first = 2L * 4 * 6 * 5;
            long second = 2L * 4 * 5 * 3;
            JniUtils.setGradMode(true);
            NDArray y;
            try (FlopCounter c = FlopCounter.install()) {
                NDArray h = Ops.linear(x, w1, null); // (4, 5), an intermediate that requires grad
                assertTrue(Ops.requiresGrad(h), "h is computed from a weight that requires grad");
                assertFalse(h.hasGradient(), "DJL's hasGradient is false for intermediates: the old bug's cause");
                y = Ops.linear(h, w2, null); // (4, 3)
                assertEquals(first + second, c.flops());
                // first layer: w1's gradient (x needs none); second: h's gradient (w2 is frozen)
                assertEquals(first + second, c.backwardFlops());
            }
            // the count matches what autograd does: w1 receives a gradient through h
            JniUtils.backward((PtNDArray) y.sum(), (PtNDArray) m.ones(new Shape()), false, false);
            assertTrue(w1.getGradient().abs().sum().getFloat() > 0, "w1 got no gradient");
            assertFalse(Ops.requiresGrad(w2));
        } finally {
            JniUtils.setGradMode(before);
        }
    }

    @Test
    void flagsFollowAResidualAddOutsideOpsIntoConvAndAttention() {
        NDManager m = NDManager.newBaseManager(); // loads the engine before any JniUtils call
        boolean before = JniUtils.isGradMode();
        try (m) {
            NDArray x = m.randomNormal(new Shape(1, 2, 4, 4)); // (N, C, H, W) data
            NDArray frozen = m.randomNormal(new Shape(2, 2, 3, 3)); // (Cout, Cin, k, k)
            NDArray trained = m.randomNormal(new Shape(2, 2, 1, 1));
            trained.setRequiresGradient(true);
            NDArray kv = m.randomNormal(new Shape(1, 3, 4)); // (B, Sk, D) text-like: no grad
            long conv3 = 2L * (2 * 4 * 4) * 2 * 3 * 3;
            long conv1 = 2L * (2 * 4 * 4) * 2;
            long qk = 2L * 8 * 3 * 4; // B Sq Sk D with Sq = 8 rows of D = 4
            long pv = qk;
            JniUtils.setGradMode(true);
            try (FlopCounter c = FlopCounter.install()) {
                NDArray a = Ops.conv2d(x, frozen, null, 1, 1); // no input or weight gradient: 0
                assertEquals(0, c.backwardFlops());
                NDArray r = a.add(Ops.conv2d(a, trained, null, 1, 0)); // x + proj(x), the add outside Ops
                assertEquals(conv1, c.backwardFlops()); // the trained weight's gradient only
                NDArray b = Ops.conv2d(r, frozen, null, 1, 1); // r requires grad: its input gradient
                assertEquals(conv1 + conv3, c.backwardFlops());
                NDArray q = b.reshape(1, 8, 4); // (B, Sq, D)
                Ops.attention(q, kv, kv); // dP = dO v^T, then dq only
                assertEquals(conv1 + conv3 + pv + qk, c.backwardFlops());
            }
            // with grad mode off autograd records nothing: no backward however the weights are flagged
            JniUtils.setGradMode(false);
            try (FlopCounter c = FlopCounter.install()) {
                Ops.conv2d(x, trained, null, 1, 0);
                assertEquals(conv1, c.flops());
                assertEquals(0, c.backwardFlops());
            }
        } finally {
            JniUtils.setGradMode(before);
        }
    }
}
