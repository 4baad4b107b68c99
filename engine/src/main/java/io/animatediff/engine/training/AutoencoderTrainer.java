package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.model.ConfigFiles;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.vae.AutoencoderKL;
import io.animatediff.engine.vae.DiagonalGaussianDistribution;
import io.animatediff.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Trains an {@link AutoencoderKL} from scratch on stills, as the first stage of latent diffusion
 * (Rombach et al. 2022, sec. 3.1) without its perceptual and adversarial terms: the loss is the
 * reconstruction's mean squared error plus {@code klWeight} times the KL divergence of the latent
 * distribution from N(0, 1) (per element, mean), the decoder seeing a sample of that distribution.
 * AdamW and gradient clipping as the motion trainer. {@link #save} writes a diffusers {@code vae/}
 * folder whose {@code scaling_factor} brings the latents to unit variance, as SD's 0.18215 does.
 */
public final class AutoencoderTrainer implements AutoCloseable {
    /**
     * @param vae the architecture (scaling_factor is replaced by the measured one on save)
     * @param steps optimizer steps
     * @param batchSize stills per step
     * @param learningRate AdamW learning rate of the first step
     * @param klWeight weight of the KL term
     * @param maxGradNorm global gradient-norm clip
     * @param seed initial weights and every draw
     * @param finalLearningRate the learning rate of the last step as a fraction of the first: 1 keeps it
     *     constant, below 1 decays it along a half cosine (as diffusers' {@code cosine} schedule without
     *     warm-up, ending at this fraction instead of 0)
     */
    public record Config(
            AutoencoderKLConfig vae,
            int steps,
            int batchSize,
            double learningRate,
            double klWeight,
            double maxGradNorm,
            long seed,
            double finalLearningRate) {
        /** A constant learning rate. */
        public Config(
                AutoencoderKLConfig vae,
                int steps,
                int batchSize,
                double learningRate,
                double klWeight,
                double maxGradNorm,
                long seed) {
            this(vae, steps, batchSize, learningRate, klWeight, maxGradNorm, seed, 1.0);
        }

        public Config {
            if (steps < 1 || batchSize < 1 || !(learningRate > 0) || !(klWeight >= 0) || !(maxGradNorm > 0)) {
                throw new IllegalArgumentException("autoencoder training: steps " + steps + " and batch " + batchSize
                        + " must be >= 1, learning rate " + learningRate + " and max grad norm " + maxGradNorm
                        + " > 0, KL weight " + klWeight + " >= 0");
            }
            if (!(finalLearningRate > 0 && finalLearningRate <= 1)) {
                throw new IllegalArgumentException("autoencoder training: the final learning rate is a fraction of the"
                        + " first in (0, 1] (1 = constant), got " + finalLearningRate);
            }
        }

        /** The learning rate of step {@code step} (0-based). */
        public double learningRateAt(long step) {
            double progress = steps == 1 ? 0 : Math.min(1.0, step / (double) (steps - 1));
            double cosine = 0.5 * (1 + Math.cos(Math.PI * progress)); // 1 .. 0
            return learningRate * (finalLearningRate + (1 - finalLearningRate) * cosine);
        }
    }

    /** One step's losses. */
    public record Losses(double total, double reconstruction, double kl) {}

    private final Config config;
    private final NDManager manager;
    private final AutoencoderKL vae;
    private final Map<String, Param> trainable = new LinkedHashMap<>();
    private final AdamW optimizer;
    private long step;

    public AutoencoderTrainer(Config config) {
        this.config = config;
        this.manager = NDManager.newBaseManager();
        try {
            vae = new AutoencoderKL(config.vae());
            vae.initialize(manager, config.seed());
            vae.namedTensors().forEach((k, p) -> {
                if (!p.isBuffer()) {
                    trainable.put(k, p);
                }
            });
            vae.setTrainable(true);
            optimizer = new AdamW(trainable, manager, config.learningRate(), 0.9, 0.999, 1e-8, 0.0);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** One optimizer step on batch {@code step} of {@code data}. */
    public Losses step(ImageSource data) {
        Losses losses;
        optimizer.setLearningRate(config.learningRateAt(step));
        try (NDManager scope = manager.newSubManager()) {
            ImageBatch batch = data.batch(step, config.batchSize());
            int s = data.size();
            NDArray x = scope.create(batch.pixels(), new Shape(batch.size(), 3, s, s)); // (N, 3, S, S)
            try (Recording collector = new Recording()) {
                DiagonalGaussianDistribution d = vae.latentDist(x);
                NDArray noise = TorchRandom.randn(
                        scope,
                        d.mean().getShape(),
                        SeedStreams.seed(config.seed(), SeedStreams.Purpose.LATENT, step, 0));
                NDArray recon = vae.decode(d.sample(noise)); // (N, 3, S, S)
                NDArray mse = recon.sub(x).square().mean();
                // KL(N(mu, var) || N(0, 1)) per element: (mu^2 + var - 1 - logvar) / 2
                NDArray kl = d.mean()
                        .square()
                        .add(d.logvar().exp())
                        .sub(1f)
                        .sub(d.logvar())
                        .mean()
                        .mul(0.5f);
                NDArray total = mse.add(kl.mul((float) config.klWeight()));
                losses = new Losses(total.getFloat(), mse.getFloat(), kl.getFloat());
                collector.backward(total);
            }
        }
        GradientStep.apply(trainable, optimizer, config.maxGradNorm(), manager);
        step++;
        return losses;
    }

    /** The optimizer's current learning rate (that of the last step). */
    public double learningRate() {
        return optimizer.learningRate();
    }

    /** Optimizer steps done. */
    public long stepsDone() {
        return step;
    }

    /** The autoencoder being trained. */
    public AutoencoderKL vae() {
        return vae;
    }

    /**
     * 1 / the standard deviation of the latent means over {@code n} stills of {@code data} (drawn
     * after the training batches): the scaling factor that gives the UNet unit-variance latents.
     */
    public double measureScalingFactor(ImageSource data, int n) {
        try (NDManager scope = manager.newSubManager();
                NoGrad noGrad = new NoGrad()) {
            ImageBatch batch = data.batch(Long.MAX_VALUE / 2, n);
            int s = data.size();
            NDArray z = vae.encode(scope.create(batch.pixels(), new Shape(n, 3, s, s))); // (N, L, h, w)
            float mean = z.mean().getFloat();
            double var = z.sub(mean).square().mean().getFloat();
            return 1.0 / Math.sqrt(var);
        }
    }

    /** Writes {@code folder}/config.json (with {@code scalingFactor}) and diffusion_pytorch_model.safetensors. */
    public AutoencoderKLConfig save(Path folder, double scalingFactor) throws IOException {
        AutoencoderKLConfig c = config.vae();
        AutoencoderKLConfig out = new AutoencoderKLConfig(
                c.inChannels(),
                c.outChannels(),
                c.downBlockTypes(),
                c.upBlockTypes(),
                c.blockOutChannels(),
                c.layersPerBlock(),
                c.actFn(),
                c.latentChannels(),
                c.normNumGroups(),
                scalingFactor,
                c.shiftFactor(),
                c.useQuantConv(),
                c.usePostQuantConv(),
                c.midBlockAddAttention());
        ConfigFiles.write(folder.resolve("config.json"), out);
        SafetensorsWriter.write(
                folder.resolve("diffusion_pytorch_model.safetensors"),
                TinyModels.parameters(vae),
                Map.of("format", "pt"));
        return out;
    }

    @Override
    public void close() {
        manager.close();
    }
}
