package io.animatediff.engine.model;

import ai.djl.ndarray.NDManager;
import io.animatediff.engine.clip.CLIPTextModel;
import io.animatediff.engine.schedulers.SchedulerConfig;
import io.animatediff.engine.text.ClipTokenizer;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.vae.AutoencoderKL;

/**
 * A loaded text-to-video model: tokenizer, text encoder, VAE, the inflated UNet and the scheduler
 * config, with the manager that owns every weight. Closing it frees the weights.
 */
public final class AnimateDiffModel implements AutoCloseable {
    private final NDManager manager;
    private final ClipTokenizer tokenizer;
    private final CLIPTextModel textEncoder;
    private final AutoencoderKL vae;
    private final UNet3DConditionModel unet;
    private final SchedulerConfig schedulerConfig;
    private final String description;

    public AnimateDiffModel(
            NDManager manager,
            ClipTokenizer tokenizer,
            CLIPTextModel textEncoder,
            AutoencoderKL vae,
            UNet3DConditionModel unet,
            SchedulerConfig schedulerConfig,
            String description) {
        this.manager = manager;
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.vae = vae;
        this.unet = unet;
        this.schedulerConfig = schedulerConfig;
        this.description = description;
    }

    public NDManager manager() {
        return manager;
    }

    public ClipTokenizer tokenizer() {
        return tokenizer;
    }

    public CLIPTextModel textEncoder() {
        return textEncoder;
    }

    public AutoencoderKL vae() {
        return vae;
    }

    public UNet3DConditionModel unet() {
        return unet;
    }

    public SchedulerConfig schedulerConfig() {
        return schedulerConfig;
    }

    public double vaeScalingFactor() {
        return vae.config().scalingFactor();
    }

    public String description() {
        return description;
    }

    @Override
    public void close() {
        manager.close();
    }
}
