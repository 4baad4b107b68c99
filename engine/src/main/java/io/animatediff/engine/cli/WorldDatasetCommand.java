package io.animatediff.engine.cli;

import io.animatediff.engine.world.MiniWorld;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code world-dataset}: writes miniature-world clips as a training dataset ({@code clips.jsonl} + GIFs). */
@Command(
        name = "world-dataset",
        mixinStandardHelpOptions = true,
        description = "Write miniature-world clips (coloured shapes moving) as a dataset for `train`.")
public final class WorldDatasetCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR")
    Path out;

    @Option(names = "--clips", defaultValue = "120")
    int clips;

    @Option(names = "--frames", defaultValue = "8")
    int frames;

    @Option(names = "--size", defaultValue = "32")
    int size;

    @Option(names = "--domain", defaultValue = "base", description = "base (plain backdrops) or personalized (dusk)")
    String domain;

    @Option(
            names = "--base-domain",
            defaultValue = "grey",
            paramLabel = "grey|broad",
            description = "the base domain's backdrops: grey (one light grey) or broad (nine plain colours)")
    String baseDomain;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Override
    public Integer call() throws Exception {
        MiniWorld.Domain d = switch (domain) {
            case "base" -> MiniWorld.Domain.BASE;
            case "personalized" -> MiniWorld.Domain.PERSONALIZED;
            default ->
                throw new IllegalArgumentException(
                        "--domain " + domain + " is not a domain of the world: use base or personalized");
        };
        MiniWorld.Backdrops backdrops = MiniWorld.Backdrops.named(baseDomain, "--base-domain");
        if (clips < 1) {
            throw new IllegalArgumentException("--clips must be >= 1, got " + clips);
        }
        MiniWorld.writeDataset(out, clips, frames, size, d, backdrops, seed);
        spec.commandLine()
                .getOut()
                .printf(
                        "%d %s-domain clips of %d frames at %dx%d in %s (clips.jsonl)%n",
                        clips, domain, frames, size, size, out);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
