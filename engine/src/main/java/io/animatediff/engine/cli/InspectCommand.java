package io.animatediff.engine.cli;

import io.animatediff.engine.model.ModelInspector;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code inspect PATH} or {@code inspect --preset NAME}. */
@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        description = "Print a model file's format, kind, version, dtype, tensor and parameter counts, "
                + "or a preset architecture's parameter counts (nothing allocated).")
final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..1", paramLabel = "PATH", description = "model file or diffusers folder")
    Path path;

    @Option(
            names = "--preset",
            paramLabel = "NAME",
            description = "sd15, mm-v1, mm-v2, mm-v3, tiny: one line per component, e.g. 'unet 859520964'")
    String preset;

    @Override
    public Integer call() throws Exception {
        if ((path == null) == (preset == null)) {
            throw new IllegalArgumentException("give either a PATH or --preset NAME");
        }
        for (String line : preset != null ? ModelInspector.preset(preset) : ModelInspector.inspect(path)) {
            spec.commandLine().getOut().println(line);
        }
        spec.commandLine().getOut().flush();
        return 0;
    }
}
