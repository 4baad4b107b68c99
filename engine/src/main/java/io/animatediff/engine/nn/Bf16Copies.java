package io.animatediff.engine.nn;

import io.animatediff.engine.ops.Bfloat16;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * What bfloat16 inference ({@link Bfloat16}) adds to a model's resident weights: every {@link Linear}
 * and {@link Conv2d} weight runs through {@code Ops.linear} / {@code Ops.conv2d}, which cache a
 * 2-byte copy of it at first use for the weight's lifetime. Counted from shapes, so a cache can
 * reserve the copies before the first job makes them.
 */
public final class Bf16Copies {
    private Bf16Copies() {}

    /** Bytes of the copies of {@code root}'s Linear and Conv2d weights: 2 per element. */
    public static long bytes(Module root) {
        long sum = 0;
        Deque<Module> todo = new ArrayDeque<>();
        todo.push(root);
        while (!todo.isEmpty()) {
            Module m = todo.pop();
            Param weight = m instanceof Linear l ? l.weight : m instanceof Conv2d c ? c.weight : null;
            if (weight != null) {
                sum += 2 * weight.shape().size();
            }
            m.children().values().forEach(todo::push);
        }
        return sum;
    }

    /** {@link #bytes} when bfloat16 inference is on in this process, else 0. */
    public static long bytesIfEnabled(Module root) {
        return Bfloat16.enabled() ? bytes(root) : 0;
    }
}
