package io.animatediff.engine.cli;

import io.animatediff.engine.world.MiniWorld;
import io.animatediff.engine.world.MiniWorldRecipe;
import io.animatediff.engine.world.MiniWorldSet;
import io.animatediff.engine.world.WorldMetrics;
import io.animatediff.engine.world.WorldModels;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code reproduce}: the miniature world's experiment from scratch ({@link MiniWorldRecipe}): VAE,
 * base, personalized (full and LoRA), motion module on base videos only, then the table.
 */
@Command(
        name = "reproduce",
        mixinStandardHelpOptions = true,
        description = "Train the miniature world's models from scratch on this machine and print the paper's table.")
public final class ReproduceCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", defaultValue = "out/reproduce", paramLabel = "DIR", description = "a fresh folder")
    Path out;

    @Option(names = "--quick", description = "the reduced run CI makes: every stage, few steps")
    boolean quick;

    @Option(
            names = "--base-domain",
            defaultValue = "grey",
            paramLabel = "grey|broad",
            description = "the base domain's backdrops: grey (one light grey, the shipped models' world) or broad"
                    + " (nine plain colours, light to dark)")
    String baseDomain;

    @Option(names = "--json", description = "the table as one JSON line per row")
    boolean json;

    @Option(
            names = "--ship",
            description = "copy the trained models and their table into the engine's resources (the built-in"
                    + " world models of the next build)")
    boolean ship;

    @Option(
            names = "--ship-from",
            paramLabel = "DIR",
            description = "ship the models of an earlier run in DIR (evaluated again if it has no table.jsonl)"
                    + " instead of training")
    Path shipFrom;

    @Option(
            names = "--motion-only",
            paramLabel = "SET",
            description = "retrain only the motion module on the base of an earlier run's folder SET (frozen)"
                    + " into --out, and evaluate it with that run's models")
    Path motionOnly;

    @Option(names = "--motion-steps", description = "override the plan's motion-module steps")
    Integer motionSteps;

    @Option(names = "--motion-lr", description = "override the plan's motion-module learning rate")
    Double motionLr;

    @Option(
            names = "--video-clips",
            description = "override the plan's base-domain clips the motion module trains on (600)")
    Integer videoClips;

    @Option(names = "--eval-clips", description = "override the plan's scenes per evaluation row (1..60)")
    Integer evalClips;

    @Override
    public Integer call() throws Exception {
        PrintWriter w = spec.commandLine().getOut();
        MiniWorldRecipe.Plan plan = (quick ? MiniWorldRecipe.Plan.quick() : MiniWorldRecipe.Plan.full())
                .withMotion(motionSteps, motionLr, evalClips)
                .withBackdrops(MiniWorld.Backdrops.named(baseDomain, "--base-domain"));
        if (videoClips != null) {
            plan = plan.toBuilder().videoClips(videoClips).build();
        }
        if (motionOnly != null) {
            MiniWorldSet trained = new MiniWorldSet(motionOnly);
            MiniWorldSet set = new MiniWorldSet(out);
            MiniWorldRecipe.StageLoss loss =
                    MiniWorldRecipe.trainMotion(trained.base(), out.resolve("work"), set.motion(), plan, line -> {
                        w.println(line);
                        w.flush();
                    });
            w.println(loss.describe());
            MiniWorldSet combined = MiniWorldRecipe.withMotion(trained, set.motion(), out.resolve("set"));
            List<WorldMetrics.Row> table = MiniWorldRecipe.evaluate(
                    combined, out.resolve("work/evaluation"), MiniWorldRecipe.settings(plan), line -> {
                        w.println(line);
                        w.flush();
                    });
            EvaluateCommand printer = new EvaluateCommand();
            printer.json = json;
            printer.print(table, w);
            StringBuilder rows = new StringBuilder();
            table.forEach(row -> rows.append(row.json()).append('\n'));
            Files.writeString(combined.root().resolve(WorldModels.TABLE), rows.toString());
            w.println("set with the new motion module: " + combined.root());
            w.flush();
            return 0;
        }
        if (shipFrom != null) {
            MiniWorldSet set = new MiniWorldSet(shipFrom);
            Path tableFile = shipFrom.resolve(WorldModels.TABLE);
            List<WorldMetrics.Row> table = Files.exists(tableFile)
                    ? WorldMetrics.readJsonLines(Files.readString(tableFile))
                    : MiniWorldRecipe.evaluate(
                            set, shipFrom.resolve("work/evaluation"), MiniWorldRecipe.settings(plan), line -> {
                                w.println(line);
                                w.flush();
                            });
            ship(set, table, w);
            return 0;
        }
        if (Files.exists(out)) {
            try (var s = Files.list(out)) {
                if (s.findAny().isPresent()) {
                    throw new IllegalArgumentException(
                            "--out " + out + " is not empty: give a fresh folder (a run never overwrites models)");
                }
            }
        }
        long t0 = System.nanoTime();
        MiniWorldRecipe.Result r = MiniWorldRecipe.run(out, plan, line -> {
            w.println(line);
            w.flush();
        });
        r.losses().forEach(l -> w.println(l.describe()));
        EvaluateCommand table = new EvaluateCommand();
        table.json = json;
        table.print(r.table(), w);
        w.printf(Locale.ROOT, "models in %s (%.0f s in all)%n", r.set().root(), (System.nanoTime() - t0) / 1e9);
        w.flush();
        if (ship) {
            ship(r.set(), r.table(), w);
        }
        return 0;
    }

    /** Writes the set into the engine's resource folder under the project root. */
    private static void ship(MiniWorldSet set, List<WorldMetrics.Row> table, PrintWriter w) throws Exception {
        Path root = Path.of(System.getProperty("animatediff.home", "."));
        Path resources = root.resolve("engine/src/main/resources" + WorldModels.RESOURCE_ROOT);
        if (!Files.isDirectory(root.resolve("engine/src/main"))) {
            throw new IllegalArgumentException(root.toAbsolutePath()
                    + " is not the project root (no engine/src/main): run ./animatediff from a clone of the project");
        }
        WorldModels.ship(set, table, resources);
        w.println("shipped the models and their table to " + resources + ": rebuild to make them the default");
        w.flush();
    }
}
