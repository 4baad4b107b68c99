package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.clip.CLIPTextModel;
import io.animatediff.engine.model.BaseModelFiles;
import io.animatediff.engine.model.ConfigFiles;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.nn.WeightLoader;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.schedulers.DDIMScheduler;
import io.animatediff.engine.schedulers.SchedulerConfig;
import io.animatediff.engine.text.ClipTokenizer;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.vae.AutoencoderKL;
import io.animatediff.engine.vae.DiagonalGaussianDistribution;
import io.animatediff.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Trains the image UNet of a text-to-image model on stills, the way Stable Diffusion and its
 * personalizations are trained: epsilon-MSE at t ~ U{0..T-1} on the schedule AnimateDiff samples
 * with, captions dropped to "" with probability {@code captionDropout} (classifier-free guidance),
 * AdamW with gradient clipping. The VAE and the text encoder are frozen. Full training updates every
 * UNet weight (a base model from its seeded initial weights, or a DreamBooth-style full fine-tune);
 * with {@code loraRank > 0} only a {@link UNetLoraLayers} adapter is trained and the UNet stays
 * bit-for-bit unchanged.
 *
 * <p>Data: {@code poolSize} stills of the source are encoded once by the frozen VAE (mean and std of
 * each latent distribution) and every caption once by the frozen text encoder; each step draws a
 * batch from that pool and a fresh sample of each latent distribution.
 */
public final class ImageModelTrainer implements AutoCloseable {
    /**
     * @param steps optimizer steps
     * @param batchSize stills per step
     * @param learningRate AdamW learning rate (constant)
     * @param weightDecay AdamW decoupled weight decay
     * @param maxGradNorm global gradient-norm clip
     * @param captionDropout probability a caption becomes ""
     * @param loraRank 0: train every UNet weight; r > 0: train a rank-r LoRA only
     * @param poolSize stills encoded up front
     * @param seed every draw
     */
    public record Config(
            int steps,
            int batchSize,
            double learningRate,
            double weightDecay,
            double maxGradNorm,
            double captionDropout,
            int loraRank,
            int poolSize,
            long seed) {
        public Config {
            if (steps < 1 || batchSize < 1 || poolSize < batchSize || loraRank < 0) {
                throw new IllegalArgumentException("image-model training: steps " + steps + " and batch " + batchSize
                        + " must be >= 1, pool " + poolSize + " >= batch, LoRA rank " + loraRank + " >= 0");
            }
            if (!(learningRate > 0) || !(maxGradNorm > 0) || !(captionDropout >= 0 && captionDropout <= 1)) {
                throw new IllegalArgumentException("image-model training: learning rate " + learningRate
                        + " and max grad norm " + maxGradNorm + " must be > 0, caption dropout " + captionDropout
                        + " in [0, 1]");
            }
        }
    }

    private static final int ENCODE_CHUNK = 64;

    private final Config config;
    private final NDManager manager;
    private final ClipTokenizer tokenizer;
    private final CLIPTextModel text;
    private final AutoencoderKL vae;
    private final UNet3DConditionModel unet;
    private final UNetLoraLayers lora;
    private final Map<String, Param> trainable = new LinkedHashMap<>();
    private final AdamW optimizer;
    private final DDIMScheduler noiseScheduler;
    private final int numTrainTimesteps;
    private final Map<String, float[]> textCache = new HashMap<>();
    private float[] poolMean; // (P, L, h, w)
    private float[] poolStd; // (P, L, h, w)
    private List<String> poolCaptions;
    private long[] latentShape; // (L, h, w)
    private long step;

    private ImageModelTrainer(Config config, Path model, Consumer<String> log) throws IOException {
        this.config = config;
        this.manager = NDManager.newBaseManager();
        try (BaseModelFiles files = BaseModelFiles.open(model)) {
            tokenizer = ClipTokenizer.load(files.tokenizerDir);
            text = new CLIPTextModel(files.textConfig);
            WeightLoader.load(text, files.textEncoder, manager);
            vae = new AutoencoderKL(files.vaeConfig);
            WeightLoader.load(vae, files.vae, manager);
            unet = new UNet3DConditionModel(files.unetConfig, null);
            WeightLoader.load(unet, files.unet, manager);
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
        text.setTrainable(false);
        vae.setTrainable(false);
        unet.setTrainable(config.loraRank() == 0);
        if (config.loraRank() > 0) {
            lora = UNetLoraLayers.attach(
                    unet, config.loraRank(), manager, SeedStreams.seed(config.seed(), SeedStreams.Purpose.LORA, 0, 0));
            trainable.putAll(lora.parameters());
            trainable.values().forEach(p -> p.setTrainable(true));
        } else {
            lora = null;
            unet.namedTensors().forEach((k, p) -> {
                if (!p.isBuffer()) {
                    trainable.put(k, p);
                }
            });
        }
        optimizer = new AdamW(trainable, manager, config.learningRate(), 0.9, 0.999, 1e-8, config.weightDecay());
        SchedulerConfig schedule = SchedulerConfig.animateDiffDefault();
        noiseScheduler = new DDIMScheduler(schedule, 0.0);
        numTrainTimesteps = schedule.numTrainTimesteps();
        long count =
                trainable.values().stream().mapToLong(p -> p.shape().size()).sum();
        log.accept(String.format(
                Locale.ROOT,
                "training %s of %s: %,d parameters in %d tensors",
                lora == null
                        ? "every UNet weight"
                        : "a rank-" + config.loraRank() + " LoRA on " + lora.size() + " layers",
                model,
                count,
                trainable.size()));
    }

    /** Opens the diffusers folder {@code model} (complete: its UNet weights are the starting point). */
    public static ImageModelTrainer open(Path model, Config config, ImageSource data, Consumer<String> log)
            throws IOException {
        ImageModelTrainer t = new ImageModelTrainer(config, model, log);
        try {
            t.encodePool(data);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** Encodes {@code poolSize} stills (batches drawn from index -1 downwards, apart from other uses). */
    private void encodePool(ImageSource data) {
        int n = config.poolSize();
        int s = data.size();
        List<String> captions = new ArrayList<>(n);
        float[] mean = null;
        float[] std = null;
        int per = 0;
        try (NoGrad noGrad = new NoGrad()) {
            for (int start = 0, chunk = 0; start < n; start += ENCODE_CHUNK, chunk++) {
                int m = Math.min(ENCODE_CHUNK, n - start);
                ImageBatch batch = data.batch(-1 - chunk, m);
                try (NDManager scope = manager.newSubManager()) {
                    DiagonalGaussianDistribution d =
                            vae.latentDist(scope.create(batch.pixels(), new Shape(m, 3, s, s))); // (m, L, h, w)
                    if (mean == null) {
                        Shape ls = d.mean().getShape();
                        latentShape = new long[] {ls.get(1), ls.get(2), ls.get(3)};
                        per = (int) (ls.get(1) * ls.get(2) * ls.get(3));
                        mean = new float[n * per];
                        std = new float[n * per];
                    }
                    System.arraycopy(d.mean().toFloatArray(), 0, mean, start * per, m * per);
                    System.arraycopy(d.std().toFloatArray(), 0, std, start * per, m * per);
                }
                captions.addAll(batch.captions());
            }
            for (String c : captions) {
                embedding(c);
            }
            embedding("");
        }
        poolMean = mean;
        poolStd = std;
        poolCaptions = captions;
    }

    /** The frozen text encoder's output (S, C) for {@code caption}, cached. */
    private float[] embedding(String caption) {
        return textCache.computeIfAbsent(caption, c -> {
            try (NDManager scope = manager.newSubManager();
                    NoGrad noGrad = new NoGrad()) {
                int[] tok = tokenizer.encode(c).ids();
                long[] ids = new long[tokenizer.maxLength()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = tok[i];
                }
                return text.forward(scope.create(ids, new Shape(1, ids.length))).toFloatArray();
            }
        });
    }

    /** One optimizer step; returns its loss. */
    public double step() {
        int b = config.batchSize();
        int per = poolMean.length / poolCaptions.size();
        SplittableRandom r = new SplittableRandom(SeedStreams.seed(config.seed(), SeedStreams.Purpose.CLIP, step, 0));
        float[] mean = new float[b * per];
        float[] std = new float[b * per];
        float[] tf = new float[b];
        int[] t = new int[b];
        List<float[]> texts = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            int k = r.nextInt(poolCaptions.size());
            System.arraycopy(poolMean, k * per, mean, i * per, per);
            System.arraycopy(poolStd, k * per, std, i * per, per);
            String caption = r.nextDouble() < config.captionDropout() ? "" : poolCaptions.get(k);
            texts.add(embedding(caption));
            t[i] = r.nextInt(numTrainTimesteps);
            tf[i] = t[i];
        }
        int textLen = texts.get(0).length;
        float[] textAll = new float[b * textLen];
        for (int i = 0; i < b; i++) {
            System.arraycopy(texts.get(i), 0, textAll, i * textLen, textLen);
        }
        double loss;
        try (NDManager scope = manager.newSubManager()) {
            Shape ls = new Shape(b, latentShape[0], 1, latentShape[1], latentShape[2]); // (B, L, 1, h, w)
            NDArray eps =
                    TorchRandom.randn(scope, ls, SeedStreams.seed(config.seed(), SeedStreams.Purpose.LATENT, step, 0));
            NDArray latents =
                    vae.scale(scope.create(mean, ls).add(scope.create(std, ls).mul(eps)));
            NDArray noise =
                    TorchRandom.randn(scope, ls, SeedStreams.seed(config.seed(), SeedStreams.Purpose.NOISE, step, 0));
            NDArray noisy = noiseScheduler.addNoise(latents, noise, t);
            int len = tokenizer.maxLength();
            NDArray context = scope.create(textAll, new Shape(b, len, textLen / len)); // (B, S, C)
            try (Recording collector = new Recording()) {
                NDArray pred = unet.forward(noisy, scope.create(tf, new Shape(b)), context); // (B, L, 1, h, w)
                NDArray mse = pred.sub(noise).square().mean();
                loss = mse.getFloat();
                collector.backward(mse);
            }
        }
        GradientStep.apply(trainable, optimizer, config.maxGradNorm(), manager);
        step++;
        return loss;
    }

    /** Optimizer steps done. */
    public long stepsDone() {
        return step;
    }

    /** Writes the UNet (full training) as a diffusers {@code unet/} folder. */
    public void saveUnet(Path folder) throws IOException {
        ConfigFiles.write(folder.resolve("config.json"), unet.config());
        SafetensorsWriter.write(
                folder.resolve("diffusion_pytorch_model.safetensors"),
                TinyModels.parameters(unet),
                Map.of("format", "pt"));
    }

    /** Writes the LoRA (LoRA training) as a PEFT-layout safetensors file. */
    public void saveLora(Path file) throws IOException {
        if (lora == null) {
            throw new IllegalStateException("this run trains every UNet weight, not a LoRA: use saveUnet");
        }
        lora.save(file);
    }

    @Override
    public void close() {
        manager.close();
    }
}
