package io.animatediff.engine.world;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.GifWriter;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.BaseModelFiles;
import io.animatediff.engine.model.LoraSpec;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.nn.WeightLoader;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.vae.AutoencoderKL;
import io.animatediff.engine.weights.SafetensorsWriter;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import io.animatediff.engine.world.MiniWorld.Domain;
import io.animatediff.engine.world.MiniWorld.Scene;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Generates one clip per scene with a model set-up (a diffusers model folder, a motion module file,
 * LoRAs) through the engine's own pipeline, and judges each clip against the scene its prompt named
 * with {@link WorldMetrics}: one row of the evaluation table. Deterministic: clip i uses seed
 * {@code seed + i}.
 */
public final class WorldEvaluation {
    private WorldEvaluation() {}

    /** A model to evaluate: base folder, motion module and LoRAs merged at scale 1. */
    public record Setup(String name, Path model, Path motion, List<LoraSpec> loras) {
        public Setup {
            loras = List.copyOf(loras);
        }
    }

    /**
     * How clips are generated.
     *
     * @param clips scenes per row, spread evenly over the world's 60
     * @param frames F per clip
     * @param size frame side in pixels
     * @param steps DDIM steps
     * @param guidance classifier-free guidance scale
     * @param seed clip i is generated with seed + i
     * @param backdrops the base domain's backdrops of the world's own clips ({@link #vaeRoundTrip})
     */
    public record Settings(
            int clips, int frames, int size, int steps, double guidance, long seed, MiniWorld.Backdrops backdrops) {
        /** Settings of the grey world. */
        public Settings(int clips, int frames, int size, int steps, double guidance, long seed) {
            this(clips, frames, size, steps, guidance, seed, MiniWorld.Backdrops.GREY);
        }

        public Settings {
            if (clips < 1 || clips > Scene.all().size()) {
                throw new IllegalArgumentException(
                        "clips must be 1.." + Scene.all().size() + " (the world's scenes), got " + clips);
            }
        }
    }

    /** {@code n} scenes spread evenly over the world's 60 (every direction, colour and shape appears). */
    public static List<Scene> scenes(int n) {
        List<Scene> all = Scene.all();
        List<Scene> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            // stride 7 is coprime with 60 and with the 5 directions: consecutive picks vary everything
            out.add(all.get((i * 7) % all.size()));
        }
        return out;
    }

    /** Generates the row's clips (written as {@code gifDir/<i>.gif} when gifDir is not null) and scores them. */
    public static WorldMetrics.Row evaluate(Setup setup, Settings settings, Path gifDir) throws IOException {
        List<Scene> scenes = scenes(settings.clips());
        List<Frames> clips = generate(setup, settings, scenes);
        if (gifDir != null) {
            Files.createDirectories(gifDir);
            for (int i = 0; i < clips.size(); i++) {
                GifWriter.write(clips.get(i), gifDir.resolve(String.format(Locale.ROOT, "%02d.gif", i)), 0);
            }
        }
        return WorldMetrics.row(setup.name(), scenes, clips);
    }

    /** One clip per scene, in order. */
    public static List<Frames> generate(Setup setup, Settings settings, List<Scene> scenes) throws IOException {
        for (Path p : List.of(setup.model(), setup.motion())) {
            if (!Files.exists(p)) {
                throw new IllegalArgumentException("row '" + setup.name() + "': " + p
                        + " does not exist: give a diffusers model folder and a motion module file");
            }
        }
        List<Frames> out = new ArrayList<>();
        try (AnimateDiffModel m = ModelLoader.load(
                setup.model(), setup.motion(), MotionModuleConfig.MotionNorm.OFFICIAL, setup.loras())) {
            AnimationPipeline pipeline = new AnimationPipeline(m);
            for (int i = 0; i < scenes.size(); i++) {
                AnimationParams params = AnimationParams.builder()
                        .prompt(scenes.get(i).caption())
                        .negativePrompt("")
                        .frames(settings.frames())
                        .size(settings.size(), settings.size())
                        .steps(settings.steps())
                        .guidanceScale(settings.guidance())
                        .seed(settings.seed() + i)
                        .build();
                out.add(pipeline.run(params, StepListener.NONE, true).frames());
            }
        }
        return out;
    }

    /**
     * The world's own clip of each scene in {@code domain} (clip i drawn with seed {@code seed + i}),
     * encoded and decoded by the VAE of diffusers model folder {@code model}: the ceiling the image
     * codec leaves every generated row (what the VAE cannot reproduce, no UNet can draw).
     */
    public static WorldMetrics.Row vaeRoundTrip(String name, Path model, Domain domain, Settings settings)
            throws IOException {
        List<Scene> scenes = scenes(settings.clips());
        List<Frames> out = new ArrayList<>();
        int f = settings.frames();
        int s = settings.size();
        try (BaseModelFiles files = BaseModelFiles.open(model);
                NDManager m = NDManager.newBaseManager()) {
            AutoencoderKL vae = new AutoencoderKL(files.vaeConfig);
            WeightLoader.load(vae, files.vae, m);
            for (int i = 0; i < scenes.size(); i++) {
                try (NDManager clip = m.newSubManager()) {
                    Frames truth = MiniWorld.render(
                                    scenes.get(i), domain, settings.backdrops(), f, s, settings.seed() + i)
                            .frames();
                    NDArray x = clip.create(truth.toFloatCHW(), new ai.djl.ndarray.types.Shape(f, 3, s, s))
                            .mul(2f)
                            .sub(1f); // (F, 3, H, W) in [-1, 1]
                    NDArray y = vae.decode(vae.encode(x)).add(1f).div(2f); // (F, 3, H, W) about [0, 1]
                    out.add(Frames.fromFloatCHW(y.toFloatArray(), f, s, s, truth.fps()));
                }
            }
        }
        return WorldMetrics.row(name, scenes, out);
    }

    /**
     * Writes a copy of motion module {@code motion} whose output projections ({@code proj_out}) are
     * zero: inserted into a UNet it adds nothing, and the model generates exactly as its image model
     * does frame by frame.
     */
    public static Path zeroedMotion(Path motion, Path out) throws IOException {
        try (TensorSource src = TensorSources.open(motion);
                NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (String k : src.keys()) {
                NDArray a = src.load(k, m);
                tensors.put(k, k.contains("proj_out") ? a.zerosLike() : a);
            }
            Files.createDirectories(out.toAbsolutePath().getParent());
            SafetensorsWriter.write(out, tensors, src.metadata());
        }
        return out;
    }
}
