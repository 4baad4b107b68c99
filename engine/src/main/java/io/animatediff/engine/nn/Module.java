package io.animatediff.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;

/**
 * A block of the network: named tensors and named child blocks, laid out exactly like the
 * reference state dict, so a full key such as {@code down_blocks.0.resnets.1.conv1.weight} is the
 * path of children plus the tensor name. Each subclass has its own typed {@code forward}.
 */
public abstract class Module {
    private final Map<String, Param> params = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();

    /** Declares a learnable parameter. */
    protected final Param param(String name, Param.Init init, long fanIn, long... shape) {
        return add(new Param(name, new Shape(shape), false, init, fanIn));
    }

    /** Declares a buffer: not a parameter, optional in checkpoints, computed by the block. */
    protected final Param buffer(String name, long... shape) {
        return add(new Param(name, new Shape(shape), true, Param.Init.COMPUTED, 0));
    }

    private Param add(Param p) {
        if (params.putIfAbsent(p.name(), p) != null || children.containsKey(p.name())) {
            throw new IllegalStateException(getClass().getSimpleName() + ": duplicate name " + p.name());
        }
        return p;
    }

    /** Declares a child block under {@code name}. */
    protected final <M extends Module> M child(String name, M module) {
        if (children.putIfAbsent(name, module) != null || params.containsKey(name)) {
            throw new IllegalStateException(getClass().getSimpleName() + ": duplicate name " + name);
        }
        return module;
    }

    public final Map<String, Module> children() {
        return Collections.unmodifiableMap(children);
    }

    /** Visits every tensor (parameters and buffers) with its full key under {@code prefix}. */
    public final void visit(String prefix, BiConsumer<String, Param> visitor) {
        for (Param p : params.values()) {
            visitor.accept(prefix + p.name(), p);
        }
        for (Map.Entry<String, Module> c : children.entrySet()) {
            c.getValue().visit(prefix + c.getKey() + ".", visitor);
        }
    }

    /** Every tensor by full key, in declaration order. */
    public final Map<String, Param> namedTensors() {
        Map<String, Param> out = new LinkedHashMap<>();
        visit("", out::put);
        return out;
    }

    /** Number of learnable parameters (buffers excluded), computed from shapes: nothing allocated. */
    public final long parameterCount() {
        long[] n = {0};
        visit("", (k, p) -> {
            if (!p.isBuffer()) {
                n[0] += p.shape().size();
            }
        });
        return n[0];
    }

    /**
     * Fills every parameter that is not set yet the way torch initialises a fresh layer, from a
     * seeded generator (deterministic for a seed); buffers are computed by their blocks.
     */
    public final void initialize(NDManager manager, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        visit("", (k, p) -> {
            if (!p.isSet()) {
                p.set(fresh(manager, p, random.split()));
            }
        });
        computeBuffers(manager);
    }

    /** Computes every buffer of this block and its children (e.g. positional tables). */
    public final void computeBuffers(NDManager manager) {
        fillBuffers(manager);
        for (Module c : children.values()) {
            c.computeBuffers(manager);
        }
    }

    /** Override to compute this block's own buffers. */
    protected void fillBuffers(NDManager manager) {}

    private static NDArray fresh(NDManager manager, Param p, SplittableRandom random) {
        Shape shape = p.shape();
        switch (p.init()) {
            case ZEROS:
                return manager.zeros(shape);
            case ONES:
                return manager.ones(shape);
            case FAN_IN_UNIFORM: {
                double bound = 1.0 / Math.sqrt(Math.max(1, p.fanIn()));
                float[] v = new float[Math.toIntExact(shape.size())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
                }
                return manager.create(v, shape);
            }
            case NORMAL: {
                float[] v = new float[Math.toIntExact(shape.size())];
                java.util.Random gaussian = new java.util.Random(random.nextLong());
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) gaussian.nextGaussian();
                }
                return manager.create(v, shape);
            }
            default:
                return manager.zeros(shape); // buffers: replaced by computeBuffers
        }
    }

    /** Marks every parameter trainable or frozen. */
    public final void setTrainable(boolean trainable) {
        visit("", (k, p) -> p.setTrainable(trainable));
    }
}
