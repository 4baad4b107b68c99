package io.animatediff.engine.model;

import ai.djl.ndarray.NDManager;
import io.animatediff.engine.clip.CLIPTextModel;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.nn.WeightLoader;
import io.animatediff.engine.schedulers.SchedulerConfig;
import io.animatediff.engine.text.ClipTokenizer;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.vae.AutoencoderKL;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Assembles a text-to-video model from the files a user brings: the base model's 2D weights go
 * into the inflated UNet unchanged, the motion module's weights into its motion modules, both
 * strictly; LoRAs are merged last. The scheduler is AnimateDiff's (linear betas, steps_offset 1),
 * as the official scripts/animate.py uses, whatever the base model ships.
 */
public final class ModelLoader {
    private ModelLoader() {}

    public static AnimateDiffModel load(
            Path base, Path motionModule, MotionModuleConfig.MotionNorm motionNorm, List<LoraSpec> loras)
            throws IOException {
        try (BaseModelFiles files = BaseModelFiles.open(base);
                MotionModuleFile motion = MotionModuleFile.open(motionModule, motionNorm)) {
            return load(files, motion, loras, base.getFileName().toString());
        }
    }

    /**
     * Assembles a model from files already opened (the caller closes them; the model keeps no
     * reference to them). {@code baseName} names the base model in the description.
     */
    public static AnimateDiffModel load(
            BaseModelFiles files, MotionModuleFile motion, List<LoraSpec> loras, String baseName) throws IOException {
        NDManager manager = NDManager.newBaseManager();
        try {
            // 1. text
            ClipTokenizer tokenizer = ClipTokenizer.load(files.tokenizerDir);
            CLIPTextModel text = new CLIPTextModel(files.textConfig);
            WeightLoader.load(text, files.textEncoder, manager);
            // 2. VAE
            AutoencoderKL vae = new AutoencoderKL(files.vaeConfig);
            WeightLoader.load(vae, files.vae, manager);
            // 3. the inflated UNet: 2D weights from the base, motion weights from the module
            UNet3DConditionModel unet = new UNet3DConditionModel(files.unetConfig, motion.config);
            WeightLoader.load(unet, files.unet, manager, k -> !isMotion(k), k -> false);
            WeightLoader.load(unet, motion.weights, manager, ModelLoader::isMotion, k -> false);
            AnimateDiffModel model = new AnimateDiffModel(
                    manager,
                    tokenizer,
                    text,
                    vae,
                    unet,
                    SchedulerConfig.animateDiffDefault(),
                    files.format + " " + baseName + " + motion module " + motion.config.version() + " ("
                            + motion.layout + ", " + motion.config.maxFrames() + " frames max, norm "
                            + motion.config.motionNorm().name().toLowerCase(java.util.Locale.ROOT) + ")");
            // 4. LoRAs, merged in order
            for (LoraSpec l : loras) {
                LoraMerger.merge(model, l).keep();
            }
            return model;
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    static boolean isMotion(String key) {
        return key.contains(".motion_modules.");
    }
}
