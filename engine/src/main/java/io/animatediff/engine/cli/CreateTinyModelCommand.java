package io.animatediff.engine.cli;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.TinyModels;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code create-tiny-model}: a small seeded model in the real formats, for trying the tools. */
@Command(
        name = "create-tiny-model",
        mixinStandardHelpOptions = true,
        description = "Write a tiny seeded base model (diffusers folder) and motion module (safetensors).")
final class CreateTinyModelCommand implements Callable<Integer> {
    @Option(
            names = "--out",
            required = true,
            paramLabel = "DIR",
            description = "writes DIR/base and DIR/motion.safetensors")
    Path out;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Override
    public Integer call() throws Exception {
        TinyModels.writeBaseModel(out.resolve("base"), seed);
        TinyModels.writeMotionModule(
                out.resolve("motion.safetensors"), MotionModuleConfig.tiny(false), seed + 100, true);
        System.out.println(out.resolve("base"));
        System.out.println(out.resolve("motion.safetensors"));
        return 0;
    }
}
