package io.animatediff.local;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code demo}: the fleet end to end. Starts everything, submits the sample job over HTTP, follows
 * its progress, downloads the results to {@code ./out/}, checks the GIF and stops everything.
 */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "The fleet end to end: a sample job over HTTP, its GIF and MP4 downloaded to ./out/.",
            "Starts everything, submits the job with the built-in model, follows its progress,",
            "downloads the results by their presigned URLs, verifies the GIF and stops everything.",
            "(The in-process sample without the fleet is `sample`.)"
        })
final class FleetDemoCommand implements Callable<Integer> {
    @Mixin
    StartOptions start;

    @Option(names = "--out", defaultValue = "out", paramLabel = "DIR", description = "Where results go.")
    Path out;

    @Override
    public Integer call() {
        long t0 = System.nanoTime();
        try (LocalMode mode = LocalMode.start(start.settings(true), System.out)) {
            System.out.printf("fleet up in %.1f s: gateway %s%n", (System.nanoTime() - t0) / 1e9, mode.gatewayUrl());
            FleetDemo.Result result = new FleetDemo(
                            mode.gatewayUrl(),
                            mode.apiKey(),
                            mode.log(LocalMode.GATEWAY),
                            mode.log(LocalMode.WORKER),
                            System.out)
                    .run(out);
            System.out.println("stopping the fleet ...");
            mode.close();
            System.out.println("done: job " + result.jobId());
            result.files().forEach(f -> System.out.println(f.toAbsolutePath()));
            return 0;
        } catch (ComponentException e) {
            System.err.println(e.report());
            return 1;
        }
    }
}
