package io.animatediff.engine.ops;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;

/**
 * The tensor operations the engine's blocks are written in. Every block calls these, never DJL's
 * layer classes directly, so a faster kernel (libtorch's fused ops) replaces the composed path in
 * one place.
 */
public final class Ops {
    private Ops() {}

    /** y = x W^T + b; x (..., Cin), weight (Cout, Cin), bias (Cout) or null. */
    public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return bias == null
                ? Linear.linear(x, weight).singletonOrThrow()
                : Linear.linear(x, weight, bias).singletonOrThrow();
    }

    /** 2-D convolution; x (N, Cin, H, W), weight (Cout, Cin, k, k), bias (Cout) or null. */
    public static NDArray conv2d(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        return Conv2d.conv2d(
                        x, weight, bias, new Shape(stride, stride), new Shape(padding, padding), new Shape(1, 1), 1)
                .singletonOrThrow();
    }

    /**
     * GroupNorm over x (N, C, *): statistics per sample and group of C/groups channels across all
     * trailing axes (biased variance, like torch.group_norm); affine per channel.
     */
    public static NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, double eps) {
        Shape shape = x.getShape();
        long n = shape.get(0);
        long c = shape.get(1);
        NDArray g = x.reshape(n, groups, -1); // (N, G, C/G * rest)
        NDArray mean = g.mean(new int[] {2}, true);
        NDArray centered = g.sub(mean);
        NDArray var = centered.square().mean(new int[] {2}, true);
        NDArray normed = centered.div(var.add(eps).sqrt()).reshape(shape);
        long[] affine = new long[shape.dimension()];
        java.util.Arrays.fill(affine, 1);
        affine[1] = c;
        return normed.mul(weight.reshape(new Shape(affine))).add(bias.reshape(new Shape(affine)));
    }

    /** LayerNorm over the last axis; x (..., C), weight and bias (C). */
    public static NDArray layerNorm(NDArray x, NDArray weight, NDArray bias, double eps) {
        Shape last = new Shape(x.getShape().get(x.getShape().dimension() - 1));
        return LayerNorm.layerNorm(x, last, weight, bias, (float) eps).singletonOrThrow();
    }

    /**
     * Scaled dot-product attention softmax(q k^T / sqrt(D)) v; q (..., Sq, D), k and v (..., Sk, D)
     * -> (..., Sq, D).
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v) {
        long d = q.getShape().get(q.getShape().dimension() - 1);
        NDArray scores = q.matMul(k.swapAxes(-1, -2)).mul(1.0 / Math.sqrt(d)); // (..., Sq, Sk)
        return scores.softmax(-1).matMul(v);
    }

    /** SiLU (swish): x * sigmoid(x). */
    public static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** GELU, exact (erf) form as torch.nn.functional.gelu's default. */
    public static NDArray gelu(NDArray x) {
        return Activation.gelu(x);
    }
}
