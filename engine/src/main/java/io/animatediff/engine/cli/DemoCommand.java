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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sample}: the built-in model generates a sample animation into {@code ./out/} (GIF and MP4),
 * in-process. The built-in model is written to {@code .animatediff/builtin/} on first use.
 */
@Command(
        name = "sample",
        mixinStandardHelpOptions = true,
        description = "Write a sample animation with the built-in model to ./out/, in-process (no fleet).")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "out", paramLabel = "DIR")
    Path out;

    @Option(names = "--prompt", defaultValue = "a red circle moving left")
    String prompt;

    @Override
    public Integer call() throws Exception {
        Path builtin = Path.of(".animatediff", "builtin");
        Path base = builtin.resolve("base");
        Path motion = builtin.resolve("motion.safetensors");
        if (!Files.isRegularFile(motion)) {
            System.err.println("writing the built-in model to " + builtin);
            TinyModels.writeBaseModel(base, 0);
            TinyModels.writeMotionModule(motion, MotionModuleConfig.tiny(false), 100, true);
        }
        try (AnimateDiffModel model =
                ModelLoader.load(base, motion, MotionModuleConfig.MotionNorm.OFFICIAL, List.of())) {
            AnimationParams params = AnimationParams.builder()
                    .prompt(prompt)
                    .negativePrompt("")
                    .frames(16)
                    .size(64, 64)
                    .steps(25)
                    .guidanceScale(7.5)
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
