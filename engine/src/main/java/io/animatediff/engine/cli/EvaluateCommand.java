package io.animatediff.engine.cli;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.world.MiniWorld;
import io.animatediff.engine.world.MiniWorld.Domain;
import io.animatediff.engine.world.MiniWorld.Scene;
import io.animatediff.engine.world.WorldEvaluation;
import io.animatediff.engine.world.WorldMetrics;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code evaluate}: the miniature world's table. Reference rows judge the world's own clips (the
 * metrics' ceiling) and the same clips with shuffled frames (what "no motion" scores); each
 * {@code --row NAME=MODEL_DIR:MOTION_FILE} generates one clip per scene with that model and motion
 * module and is judged against the scene its prompt named.
 */
@Command(
        name = "evaluate",
        mixinStandardHelpOptions = true,
        description = "Miniature world: motion accuracy, domain, temporal consistency and prompt adherence per row.")
public final class EvaluateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "one JSON line per row instead of a table")
    boolean json;

    @Option(
            names = "--row",
            paramLabel = "NAME=MODEL_DIR:MOTION_FILE",
            description = "a row generated with a diffusers model folder and a motion module file (repeatable)")
    List<String> rows = new ArrayList<>();

    @Option(
            names = "--vae",
            paramLabel = "MODEL_DIR",
            description = "add rows of the world's own clips (both domains) encoded and decoded by this model's VAE")
    Path vae;

    @Option(names = "--clips", defaultValue = "20", description = "scenes evaluated per row (of 60), spread evenly")
    int clips;

    @Option(names = "--frames", defaultValue = "8")
    int frames;

    @Option(names = "--size", defaultValue = "32", description = "frame side in pixels (a multiple of 8)")
    int size;

    @Option(names = "--steps", defaultValue = "25")
    int steps;

    @Option(names = "--guidance", defaultValue = "7.5")
    double guidance;

    @Option(names = "--seed", defaultValue = "1234")
    long seed;

    @Option(
            names = "--base-domain",
            defaultValue = "grey",
            paramLabel = "grey|broad",
            description = "the base domain of the world's own clips (rows 'world clips' and --vae): grey or broad")
    String baseDomain;

    @Override
    public Integer call() throws Exception {
        if (clips < 1 || clips > 60) {
            throw new IllegalArgumentException("--clips must be 1..60 (the world has 60 scenes), got " + clips);
        }
        MiniWorld.Backdrops backdrops = MiniWorld.Backdrops.named(baseDomain, "--base-domain");
        List<Scene> scenes = scenes(clips);
        List<WorldMetrics.Row> table = new ArrayList<>();
        for (Domain domain : Domain.values()) {
            table.add(WorldMetrics.row(
                    "world clips, " + domain.name().toLowerCase(Locale.ROOT) + " domain",
                    scenes,
                    truth(scenes, domain, backdrops, false)));
        }
        table.add(
                WorldMetrics.row("world clips, frames shuffled", scenes, truth(scenes, Domain.BASE, backdrops, true)));
        if (vae != null) {
            if (!Files.isDirectory(vae.resolve("vae"))) {
                throw new IllegalArgumentException("--vae " + vae
                        + ": no vae/ folder there: give a diffusers model folder (e.g. the world's base)");
            }
            WorldEvaluation.Settings settings =
                    new WorldEvaluation.Settings(clips, frames, size, steps, guidance, seed, backdrops);
            for (Domain domain : Domain.values()) {
                table.add(WorldEvaluation.vaeRoundTrip(
                        "world clips through the VAE, " + domain.name().toLowerCase(Locale.ROOT) + " domain",
                        vae,
                        domain,
                        settings));
            }
        }
        for (String row : rows) {
            table.add(generated(row, scenes));
        }
        print(table, spec.commandLine().getOut());
        return 0;
    }

    /** {@code n} scenes spread evenly over the world's 60 (as every evaluation row uses them). */
    static List<Scene> scenes(int n) {
        return WorldEvaluation.scenes(n);
    }

    private List<Frames> truth(List<Scene> scenes, Domain domain, MiniWorld.Backdrops backdrops, boolean shuffle) {
        List<Frames> out = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < scenes.size(); i++) {
            Frames f = MiniWorld.render(scenes.get(i), domain, backdrops, frames, size, seed + i)
                    .frames();
            out.add(shuffle ? MiniWorld.shuffled(f, rnd) : f);
        }
        return out;
    }

    private WorldMetrics.Row generated(String spec, List<Scene> scenes) throws Exception {
        int eq = spec.indexOf('=');
        int colon = spec.lastIndexOf(':');
        if (eq < 1 || colon < eq + 2 || colon == spec.length() - 1) {
            throw new IllegalArgumentException("--row " + spec
                    + ": expected NAME=MODEL_DIR:MOTION_FILE, e.g. personalized+motion=models/p:m.safetensors");
        }
        String name = spec.substring(0, eq);
        Path model = Path.of(spec.substring(eq + 1, colon));
        Path motion = Path.of(spec.substring(colon + 1));
        if (!Files.exists(model) || !Files.exists(motion)) {
            throw new IllegalArgumentException("--row " + name + ": " + (Files.exists(model) ? motion : model)
                    + " does not exist: give a diffusers model folder and a motion module file");
        }
        List<Frames> out = new ArrayList<>();
        try (AnimateDiffModel m = ModelLoader.load(model, motion, MotionModuleConfig.MotionNorm.OFFICIAL, List.of())) {
            for (int i = 0; i < scenes.size(); i++) {
                AnimationParams params = AnimationParams.builder()
                        .prompt(scenes.get(i).caption())
                        .negativePrompt("")
                        .frames(frames)
                        .size(size, size)
                        .steps(steps)
                        .guidanceScale(guidance)
                        .seed(seed + i)
                        .build();
                out.add(new AnimationPipeline(m)
                        .run(params, StepListener.NONE, true)
                        .frames());
            }
        }
        return WorldMetrics.row(name, scenes, out);
    }

    void print(List<WorldMetrics.Row> table, PrintWriter out) {
        if (json) {
            table.forEach(r -> out.println(r.json()));
            out.flush();
            return;
        }
        out.printf(
                Locale.ROOT,
                "%-40s %6s %8s %13s %12s %7s %6s%n",
                "row",
                "clips",
                "motion",
                "personalized",
                "consistency",
                "colour",
                "shape");
        for (WorldMetrics.Row r : table) {
            out.printf(
                    Locale.ROOT,
                    "%-40s %6d %7.1f%% %12.1f%% %11.1f%% %6.1f%% %5.1f%%%n",
                    r.name(),
                    r.clips(),
                    100 * r.motionAccuracy(),
                    100 * r.personalizedFrames(),
                    100 * r.temporalConsistency(),
                    100 * r.colourAccuracy(),
                    100 * r.shapeAccuracy());
        }
        out.println("motion chance level: 20% (5 directions); personalized = share of frames read as the"
                + " personalized domain");
        out.flush();
    }
}
