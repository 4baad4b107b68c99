package io.animatediff.engine.cli;

import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ./animatediff} command line: everything the engine does, in-process. */
@Command(
        name = "animatediff",
        mixinStandardHelpOptions = true,
        version = "animatediff-fleet 0.1.0",
        description = "AnimateDiff text-to-video on DJL PyTorch.",
        subcommands = {
            GenerateCommand.class,
            InspectCommand.class,
            DemoCommand.class,
            CreateTinyModelCommand.class,
            TrainCommand.class,
            BenchCommand.class,
            EvaluateCommand.class,
            WorldDatasetCommand.class,
            ReproduceCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; errors print one clear line, not a stack trace. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setOverwrittenOptionsAllowed(true); // a later --frames wins, as scripts expect
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("error: " + oneLine(e));
            if (Boolean.getBoolean("animatediff.debug")) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cl;
    }

    /** The exception's message on one line: "heading:\n  a\n  b" becomes "heading: a; b". */
    static String oneLine(Exception e) {
        String message = e.getMessage() == null || e.getMessage().isBlank() ? e.toString() : e.getMessage();
        if (e instanceof NoSuchFileException missing) {
            message = missing.getFile() + " does not exist";
        }
        return message.strip().replaceAll(":\\s*\\R\\s*", ": ").replaceAll("\\s*\\R\\s*", "; ");
    }
}
