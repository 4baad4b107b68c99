package io.animatediff.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.store.Sha256;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class LocalCliTest {
    @Test
    void offersUpDemoAndEveryEngineSubcommand() {
        CommandLine cli = LocalCli.commandLine();
        Set<String> names = cli.getSubcommands().keySet();
        assertTrue(names.containsAll(Set.of("up", "demo", "help")), "subcommands " + names);
        for (String engine :
                io.animatediff.engine.cli.Main.commandLine().getSubcommands().keySet()) {
            assertTrue(names.contains(engine), "engine subcommand " + engine + " missing from " + names);
        }
        assertTrue(names.contains("sample"), "the engine's in-process demo is now `sample`: " + names);
        assertEquals(
                FleetDemoCommand.class,
                cli.getSubcommands().get("demo").getCommandSpec().userObject().getClass(),
                "`demo` is the fleet demo");
    }

    @Test
    void helpListsTheCommands() {
        StringWriter text = new StringWriter();
        CommandLine cli = LocalCli.commandLine();
        cli.setOut(new PrintWriter(text));
        assertEquals(0, cli.execute("--help"));
        for (String name : new String[] {"up", "demo", "sample", "generate", "inspect"}) {
            assertTrue(text.toString().contains(name), name + " not in help:\n" + text);
        }
    }

    @Test
    void externalServicesComeFromTheEnvironment() {
        LocalLayout layout = new LocalLayout(Path.of("."), Path.of(".animatediff/local"));
        LocalSettings local = LocalSettings.from(layout, true, name -> null);
        assertTrue(local.externalKafka().isEmpty());
        assertTrue(local.externalStore().isEmpty());
        LocalSettings external = LocalSettings.from(layout, true, name -> switch (name) {
            case "KAFKA_BOOTSTRAP_SERVERS" -> "kafka.example:9092";
            case "ANIMATEDIFF_S3_ENDPOINT" -> "https://s3.example";
            case "ANIMATEDIFF_S3_ACCESS_KEY" -> "ak";
            case "ANIMATEDIFF_S3_SECRET_KEY" -> "sk";
            default -> null;
        });
        assertEquals("kafka.example:9092", external.externalKafka().orElseThrow());
        assertEquals(
                "https://s3.example", external.externalStore().orElseThrow().endpoint());
        assertEquals("animatediff", external.externalStore().orElseThrow().bucket());
    }

    @Test
    void apiKeysAreFreshAndHashedAsTheGatewayExpects() {
        String a = LocalMode.newApiKey();
        String b = LocalMode.newApiKey();
        assertTrue(a.startsWith("adk_") && a.length() > 40, a);
        assertTrue(!a.equals(b));
        String hash = Sha256.hex(a.getBytes(StandardCharsets.UTF_8));
        assertTrue(hash.matches("[0-9a-f]{64}"), hash);
    }

    @Test
    void failureReportNamesTheComponentAndShowsItsLogTail(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("worker.log");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 100; i++) {
            sb.append("line ").append(i).append('\n');
        }
        Files.writeString(log, sb);
        String report = new ComponentException("worker", "exited with status 1 while starting", log).report();
        assertTrue(report.startsWith("error: worker exited with status 1"), report);
        assertTrue(report.contains("line 99") && report.contains("line 60"), report);
        assertTrue(!report.contains("line 59\n"), report);
    }
}
