package io.animatediff.local;

import io.animatediff.common.Topics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * A single-node KRaft Kafka (combined broker + controller, node 1) as a child process on loopback:
 * {@code kafka.tools.StorageTool format --standalone} on a fresh {@code <state>/kafka}, then
 * {@code kafka.Kafka server.properties}; ready once a real {@link Admin} client sees the broker.
 * The storage is formatted anew on every start (the controller's address is part of it, and ports
 * are picked fresh).
 */
public final class KafkaProcess {
    public static final String COMPONENT = "kafka";
    /** Heap of the broker process. */
    public static final String HEAP = "-Xmx512m";
    /** Partitions of the fleet's topics in local mode (fleet contract). */
    public static final int PARTITIONS = 6;

    private KafkaProcess() {}

    /** The running broker and its bootstrap address ({@code 127.0.0.1:<port>}). */
    public record Started(ChildProcess process, String bootstrap) {}

    /** Formats storage, starts the broker and waits until an Admin client answers. */
    public static Started start(LocalLayout layout, Duration timeout, ProcessOwner owner) throws ComponentException {
        layout.requireBuilt(COMPONENT, layout.kafkaLib());
        Path dir = layout.kafkaDir();
        Path log = layout.log(COMPONENT);
        int brokerPort = Ports.free();
        int controllerPort = Ports.free();
        Path props = dir.resolve("server.properties");
        try {
            LocalLayout.deleteTree(dir);
            Files.createDirectories(dir);
            Files.writeString(props, serverProperties(dir.resolve("data"), brokerPort, controllerPort));
        } catch (IOException | RuntimeException e) {
            throw new ComponentException(COMPONENT, "cannot prepare " + dir + ": " + e.getMessage(), null);
        }
        String classpath = classpath(layout);
        ChildProcess.runToCompletion(
                COMPONENT + "-format",
                List.of(
                        LocalLayout.java(),
                        "-Xmx256m",
                        "-cp",
                        classpath,
                        "kafka.tools.StorageTool",
                        "format",
                        "-t",
                        Uuid.randomUuid().toString(),
                        "-c",
                        props.toString(),
                        "--standalone"),
                Map.of(),
                dir,
                layout.log(COMPONENT + "-format"),
                timeout);
        String bootstrap = Ports.LOOPBACK + ":" + brokerPort;
        return launch(layout, bootstrap, timeout, owner, log);
    }

    /**
     * Starts the broker again on its existing storage and {@code server.properties} (same ports,
     * same data: a broker restart, as after a crash or an upgrade), and waits until it answers.
     */
    public static Started restart(LocalLayout layout, String bootstrap, Duration timeout, ProcessOwner owner)
            throws ComponentException {
        if (!Files.isRegularFile(layout.kafkaDir().resolve("server.properties"))) {
            throw new ComponentException(
                    COMPONENT, "cannot restart: " + layout.kafkaDir() + " holds no server.properties", null);
        }
        return launch(layout, bootstrap, timeout, owner, layout.log(COMPONENT + "-restarted"));
    }

    private static String classpath(LocalLayout layout) {
        return layout.kafkaLib() + "/*";
    }

    private static Started launch(LocalLayout layout, String bootstrap, Duration timeout, ProcessOwner owner, Path log)
            throws ComponentException {
        Path dir = layout.kafkaDir();
        ChildProcess process = ChildProcess.start(
                COMPONENT,
                List.of(
                        LocalLayout.java(),
                        HEAP,
                        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                        "-Dorg.slf4j.simpleLogger.showDateTime=true",
                        "-cp",
                        classpath(layout),
                        "kafka.Kafka",
                        dir.resolve("server.properties").toString()),
                Map.of(),
                dir,
                log);
        owner.adopt(process);
        try {
            awaitReady(bootstrap, process, log, timeout);
        } catch (ComponentException e) {
            process.close();
            throw e;
        }
        return new Started(process, bootstrap);
    }

    /** Waits until an Admin client on {@code bootstrap} lists a broker. */
    public static void awaitReady(String bootstrap, ChildProcess process, Path log, Duration timeout)
            throws ComponentException {
        try (Admin admin = Admin.create(adminConfig(bootstrap))) {
            Readiness.await(
                    COMPONENT, process, log, timeout, "an Admin client on " + bootstrap + " sees a broker", () -> {
                        if (admin.describeCluster()
                                .nodes()
                                .get(5, TimeUnit.SECONDS)
                                .isEmpty()) {
                            throw new IllegalStateException("no broker registered yet");
                        }
                    });
        }
    }

    /**
     * Creates the fleet's topics (contract: {@value #PARTITIONS} partitions, job-events compacted),
     * keeping those that exist.
     */
    public static void createTopics(String bootstrap, Path log) throws ComponentException {
        List<NewTopic> topics = new ArrayList<>();
        for (String t : List.of(Topics.GENERATE, Topics.JOB_EVENTS, Topics.CANCEL, Topics.GENERATE_DLQ, Topics.TRAIN)) {
            NewTopic nt = new NewTopic(t, PARTITIONS, (short) 1);
            if (t.equals(Topics.JOB_EVENTS)) {
                nt.configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
            }
            topics.add(nt);
        }
        try (Admin admin = Admin.create(adminConfig(bootstrap))) {
            for (NewTopic t : topics) {
                try {
                    admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new ComponentException(
                                COMPONENT, "cannot create topic " + t.name() + ": " + e.getCause(), log, e);
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ComponentException(COMPONENT, "interrupted while creating topics", log);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new ComponentException(COMPONENT, "did not create the fleet's topics within 30 s", log, e);
        }
    }

    static Properties adminConfig(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 10000);
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1000);
        return p;
    }

    static String serverProperties(Path dataDir, int brokerPort, int controllerPort) {
        String host = Ports.LOOPBACK;
        return String.join(
                System.lineSeparator(),
                "# local mode: one combined broker + controller on loopback",
                "process.roles=broker,controller",
                "node.id=1",
                "listeners=PLAINTEXT://" + host + ":" + brokerPort + ",CONTROLLER://" + host + ":" + controllerPort,
                "advertised.listeners=PLAINTEXT://" + host + ":" + brokerPort + ",CONTROLLER://" + host + ":"
                        + controllerPort,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "controller.quorum.bootstrap.servers=" + host + ":" + controllerPort,
                "log.dirs=" + dataDir.toAbsolutePath(),
                "num.partitions=" + PARTITIONS,
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=6",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "");
    }
}
