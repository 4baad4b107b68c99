package io.animatediff.engine.cli;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.media.OutputType;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.AnimationResult;
import io.animatediff.engine.pipeline.AnimationWriter;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.world.MiniWorldSet;
import io.animatediff.engine.world.WorldModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sample}: the miniature world's trained models (personalized model + motion module) generate
 * a sample animation into {@code ./out/} (GIF and MP4), in-process; builds without them use the
 * seeded built-in model. Models are written to {@code .animatediff/builtin/} on first use.
 */
@Command(
        name = "sample",
        mixinStandardHelpOptions = true,
        description = "Write a sample animation with the built-in model to ./out/, in-process (no fleet).")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "out", paramLabel = "DIR")
    Path out;

    @Option(names = "--prompt", defaultValue = "a red circle moving right")
    String prompt;

    @Option(
            names = "--model",
            defaultValue = "personalized",
            description = "the world's image model: personalized (striped style) or base (plain)")
    String modelName;

    @Override
    public Integer call() throws Exception {
        Path builtin = Path.of(".animatediff", "builtin");
        Path base = builtin.resolve("base");
        Path motion = builtin.resolve("motion.safetensors");
        int frames = 16;
        if (WorldModels.available()) {
            MiniWorldSet world = WorldModels.extract(builtin.resolve("world"));
            base = switch (modelName) {
                case "personalized" -> world.personalized();
                case "base" -> world.base();
                default ->
                    throw new IllegalArgumentException(
                            "--model " + modelName + " is not a world model: use personalized or base");
            };
            motion = world.motion();
            frames = WorldModels.FRAMES;
        } else if (!Files.isRegularFile(motion)) {
            System.err.println("writing the built-in model to " + builtin);
            TinyModels.writeBaseModel(base, 0);
            TinyModels.writeMotionModule(motion, MotionModuleConfig.tiny(false), 100, true);
        }
        try (AnimateDiffModel model =
                ModelLoader.load(base, motion, MotionModuleConfig.MotionNorm.OFFICIAL, List.of())) {
            AnimationParams params = AnimationParams.builder()
                    .prompt(prompt)
                    .negativePrompt("")
                    .frames(frames)
                    .size(64, 64)
                    .steps(25)
                    .guidanceScale(4.0)
                    .seed(42)
                    .build();
            AnimationResult result = new AnimationPipeline(model).run(params, StepListener.NONE, true);
            List<Path> gif = AnimationWriter.write(result, OutputType.GIF, 8, out.resolve("demo.gif"));
            List<Path> mp4 = AnimationWriter.write(result, OutputType.MP4, 8, out.resolve("demo.mp4"));
            System.out.println("prompt: " + prompt + " (" + model.description() + ")");
            gif.forEach(System.out::println);
            mp4.forEach(System.out::println);
        }
        return 0;
    }
}
