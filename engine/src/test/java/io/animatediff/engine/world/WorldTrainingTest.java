package io.animatediff.engine.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.BaseModelFiles;
import io.animatediff.engine.model.LoraSpec;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.nn.WeightLoader;
import io.animatediff.engine.training.AutoencoderTrainer;
import io.animatediff.engine.training.ImageModelTrainer;
import io.animatediff.engine.vae.AutoencoderKL;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import io.animatediff.engine.world.MiniWorld.Domain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image-side trainers of the miniature world: the VAE and the image UNet (full and LoRA) learn
 * (loss falls), write files the engine's own loaders read strictly, and the LoRA leaves the UNet it
 * adapts untouched.
 */
class WorldTrainingTest {
    private static final int SIZE = 32;

    @Test
    void theAutoencoderLearnsAndItsFolderLoadsStrictly(@TempDir Path dir) throws Exception {
        WorldStills stills = new WorldStills(List.of(Domain.BASE, Domain.PERSONALIZED), SIZE, 8, 3);
        List<Double> losses = new ArrayList<>();
        float[] reconstructed;
        float[] latents = new float[4 * 4 * 4];
        for (int i = 0; i < latents.length; i++) {
            latents[i] = (float) Math.sin(i);
        }
        AutoencoderKLConfig saved;
        try (AutoencoderTrainer t = new AutoencoderTrainer(
                new AutoencoderTrainer.Config(AutoencoderKLConfig.tiny(), 40, 4, 2e-3, 1e-4, 1.0, 5, 0.1))) {
            for (int i = 0; i < 40; i++) {
                losses.add(t.step(stills).total());
                if (i == 0) {
                    assertEquals(2e-3, t.learningRate(), 1e-15, "the first step at the full learning rate");
                }
            }
            assertEquals(2e-4, t.learningRate(), 1e-15, "the last step at the final fraction (cosine decay)");
            double factor = t.measureScalingFactor(stills, 16);
            assertTrue(factor > 0 && Double.isFinite(factor), "scaling factor " + factor);
            TinyModels.writeBaseModel(dir.resolve("base"), 1);
            saved = t.save(dir.resolve("base/vae"), factor);
            assertEquals(factor, saved.scalingFactor(), 1e-12);
            try (NDManager m = NDManager.newBaseManager()) {
                reconstructed =
                        t.vae().decode(m.create(latents, new Shape(1, 4, 4, 4))).toFloatArray();
            }
        }
        assertTrue(mean(losses.subList(30, 40)) < 0.7 * mean(losses.subList(0, 10)), "VAE loss " + losses);
        try (NDManager m = NDManager.newBaseManager();
                BaseModelFiles files = BaseModelFiles.open(dir.resolve("base"))) {
            assertEquals(saved.scalingFactor(), files.vaeConfig.scalingFactor(), 1e-12);
            AutoencoderKL vae = new AutoencoderKL(files.vaeConfig);
            WeightLoader.load(vae, files.vae, m);
            NDArray back = vae.decode(m.create(latents, new Shape(1, 4, 4, 4)));
            float[] b = back.toFloatArray();
            for (int i = 0; i < b.length; i++) {
                assertEquals(reconstructed[i], b[i], 1e-5 + 1e-5 * Math.abs(reconstructed[i]), "decoded pixel " + i);
            }
        }
    }

    @Test
    void theImageUNetLearnsAndALoraLeavesItUntouched(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base");
        TinyModels.writeBaseModel(base, 11);
        Path motion = dir.resolve("motion.safetensors");
        TinyModels.writeMotionModule(motion, MotionModuleConfig.tiny(false), 12, false);
        WorldStills stills = new WorldStills(List.of(Domain.BASE), SIZE, 8, 4);
        byte[] unetBefore = Files.readAllBytes(base.resolve("unet/diffusion_pytorch_model.safetensors"));

        List<Double> full = new ArrayList<>();
        Path tuned = dir.resolve("tuned");
        MiniWorldRecipe.replaceFolder(base, tuned);
        try (ImageModelTrainer t = ImageModelTrainer.open(
                tuned, new ImageModelTrainer.Config(40, 8, 2e-3, 1e-2, 1.0, 0.1, 0, 32, 6), stills, s -> {})) {
            for (int i = 0; i < 40; i++) {
                full.add(t.step());
            }
            t.saveUnet(tuned.resolve("unet"));
        }
        assertTrue(mean(full.subList(30, 40)) < mean(full.subList(0, 10)), "base UNet loss " + full);

        Path lora = dir.resolve("lora.safetensors");
        try (ImageModelTrainer t = ImageModelTrainer.open(
                base, new ImageModelTrainer.Config(10, 4, 1e-2, 0.0, 1.0, 0.1, 2, 16, 7), stills, s -> {})) {
            for (int i = 0; i < 10; i++) {
                t.step();
            }
            t.saveLora(lora);
        }
        assertEquals(
                java.util.Arrays.hashCode(unetBefore),
                java.util.Arrays.hashCode(Files.readAllBytes(base.resolve("unet/diffusion_pytorch_model.safetensors"))),
                "a LoRA run never writes the UNet");
        Set<String> keys;
        try (TensorSource src = TensorSources.open(lora)) {
            keys = Set.copyOf(src.keys());
        }
        assertTrue(
                keys.stream().allMatch(k -> k.startsWith("unet.") && k.matches(".*\\.lora_[AB]\\.weight")), "" + keys);
        assertTrue(keys.stream().noneMatch(k -> k.contains("motion_modules")), "no adapter on the motion modules");

        // the engine's loader merges the PEFT file: the merged UNet differs from the plain one
        float[] plain = firstUpWeight(base, motion, List.of());
        float[] merged = firstUpWeight(base, motion, List.of(new LoraSpec(lora, 1.0)));
        double diff = 0;
        for (int i = 0; i < plain.length; i++) {
            diff = Math.max(diff, Math.abs(plain[i] - merged[i]));
        }
        assertTrue(diff > 0, "the trained LoRA changes the merged weights");
    }

    private static float[] firstUpWeight(Path base, Path motion, List<LoraSpec> loras) throws Exception {
        try (AnimateDiffModel m = ModelLoader.load(base, motion, MotionModuleConfig.MotionNorm.OFFICIAL, loras)) {
            return m.unet().namedTensors().entrySet().stream()
                    .filter(e -> e.getKey().endsWith("attn1.to_q.weight")
                            && !e.getKey().contains("motion"))
                    .findFirst()
                    .orElseThrow()
                    .getValue()
                    .get()
                    .toFloatArray();
        }
    }

    private static double mean(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }
}
