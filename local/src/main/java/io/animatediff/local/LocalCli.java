package io.animatediff.local;

import java.util.IdentityHashMap;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ./animatediff} command line: {@code up} and {@code demo} (the fleet on this machine)
 * plus every subcommand of the engine's in-process CLI ({@code io.animatediff.engine.cli.Main}),
 * taken from it at start so new engine commands appear here by themselves.
 */
@Command(
        name = "animatediff",
        mixinStandardHelpOptions = true,
        version = "animatediff-fleet 0.1.0",
        description = "AnimateDiff text-to-video: the fleet on this machine (up, demo) and the engine in-process.",
        subcommands = {UpCommand.class, FleetDemoCommand.class, VerifyDeliveryCommand.class})
public final class LocalCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        quietLibraries();
        System.exit(commandLine().execute(args));
    }

    /** The command line with the engine's subcommands added; errors print one clear line. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new LocalCli());
        CommandLine engine = io.animatediff.engine.cli.Main.commandLine();
        Map<CommandLine, Boolean> added = new IdentityHashMap<>();
        for (CommandLine sub : engine.getSubcommands().values()) {
            String name = sub.getCommandName();
            if (added.put(sub, Boolean.TRUE) == null
                    && !name.equals("help")
                    && !cl.getSubcommands().containsKey(name)) {
                cl.addSubcommand(name, sub);
            }
        }
        cl.addSubcommand("help", new CommandLine.HelpCommand());
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("error: " + e.getMessage());
            if (Boolean.getBoolean("animatediff.debug")) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cl;
    }

    /** Kafka's client warns on every reconnect while the broker starts: errors only, unless set. */
    static void quietLibraries() {
        if (System.getProperty("org.slf4j.simpleLogger.log.org.apache.kafka") == null) {
            System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka", "error");
        }
    }
}
