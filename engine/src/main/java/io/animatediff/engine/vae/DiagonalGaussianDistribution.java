package io.animatediff.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/**
 * Ports diffusers.models.autoencoders.vae.DiagonalGaussianDistribution: the encoder's moments split
 * into mean and log-variance (clamped to [-30, 20]), std = exp(logvar / 2). Arrays live on the
 * moments' manager.
 */
public final class DiagonalGaussianDistribution {
    private final NDArray mean;
    private final NDArray logvar;
    private final NDArray std;

    /** moments (N, 2 L, h, w): mean first, then log-variance, along axis 1. */
    public DiagonalGaussianDistribution(NDArray moments) {
        long c = moments.getShape().get(1);
        if (moments.getShape().dimension() != 4 || c % 2 != 0) {
            throw new IllegalArgumentException("latent moments must be (N, 2 L, h, w), got " + moments.getShape());
        }
        NDList parts = moments.split(2, 1);
        this.mean = parts.get(0); // (N, L, h, w)
        this.logvar = parts.get(1).clip(-30.0, 20.0); // (N, L, h, w)
        this.std = logvar.mul(0.5).exp(); // (N, L, h, w)
    }

    /** (N, L, h, w); also the mode. */
    public NDArray mean() {
        return mean;
    }

    /** (N, L, h, w), clamped to [-30, 20]. */
    public NDArray logvar() {
        return logvar;
    }

    /** (N, L, h, w). */
    public NDArray std() {
        return std;
    }

    /** mean + std * noise; noise (N, L, h, w) standard normal, drawn by the caller's seeded generator. */
    public NDArray sample(NDArray noise) {
        if (!noise.getShape().equals(mean.getShape())) {
            throw new IllegalArgumentException(
                    "noise must have the latent shape " + mean.getShape() + ", got " + noise.getShape());
        }
        return mean.add(std.mul(noise));
    }
}
