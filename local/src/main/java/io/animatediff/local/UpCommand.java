package io.animatediff.local;

import java.io.PrintStream;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code up}: starts the fleet on this machine, prints the gateway URL and API key, runs until Ctrl-C. */
@Command(
        name = "up",
        mixinStandardHelpOptions = true,
        description = {
            "Run the fleet on this machine (Kafka, S3Proxy, gateway, worker, trainer) until Ctrl-C.",
            "Everything listens on loopback; the gateway URL and a fresh API key are printed.",
            "External services: set KAFKA_BOOTSTRAP_SERVERS and/or ANIMATEDIFF_S3_ENDPOINT,",
            "ANIMATEDIFF_S3_ACCESS_KEY, ANIMATEDIFF_S3_SECRET_KEY (and ANIMATEDIFF_S3_BUCKET) to use them instead."
        })
final class UpCommand implements Callable<Integer> {
    @Mixin
    StartOptions start;

    @Option(names = "--port", defaultValue = "0", description = "Gateway HTTP port (default: a free one).")
    int port;

    @Override
    public Integer call() throws InterruptedException {
        PrintStream out = System.out;
        LocalMode mode;
        try {
            mode = LocalMode.start(start.settings(true).withGatewayPort(port), out);
        } catch (ComponentException e) {
            System.err.println(e.report());
            return 1;
        }
        printWelcome(mode, out);
        // runs until Ctrl-C (the shutdown hook stops everything) or until a component dies
        while (true) {
            Optional<ChildProcess> dead = mode.firstDead();
            if (dead.isPresent()) {
                // Ctrl-C reaches the children too: give the shutdown hook a moment to claim it
                Thread.sleep(1000);
                if (mode.isClosed()) {
                    continue;
                }
                ChildProcess p = dead.get();
                System.err.println(new ComponentException(p.name(), "stopped unexpectedly", p.log()).report());
                mode.close();
                return 1;
            }
            Thread.sleep(1000);
        }
    }

    static void printWelcome(LocalMode mode, PrintStream out) {
        String url = mode.gatewayUrl();
        out.println();
        out.println("The animatediff fleet is up.");
        out.println("  gateway  " + url + "   (Swagger UI " + url + "/q/swagger-ui, OpenAPI " + url + "/q/openapi)");
        out.println("  API key  " + mode.apiKey());
        out.println("  kafka    " + mode.kafkaBootstrap());
        out.println("  s3       " + mode.store().endpoint() + "  bucket "
                + mode.store().bucket() + "  access key " + mode.store().accessKey());
        out.println("  logs     " + mode.settings().layout().logs());
        out.println("Try:");
        out.println(
                "  curl -s -H 'Authorization: Bearer " + mode.apiKey() + "' -H 'Content-Type: application/json' \\");
        out.println("    -d '" + FleetDemo.sampleRequest() + "' \\");
        out.println("    " + url + "/v1/animations");
        out.println("Ctrl-C stops everything.");
        out.flush();
    }
}
