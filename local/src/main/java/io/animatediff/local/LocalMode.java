package io.animatediff.local;

import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.Sha256;
import io.animatediff.common.store.StoreConfig;
import io.animatediff.engine.world.WorldModels;
import io.animatediff.worker.BuiltinModels;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The whole fleet on one machine, on loopback, each component a child process with its own log in
 * {@code <state>/logs/}: a KRaft Kafka broker, S3Proxy on a local folder, the built-in models
 * registered, the gateway ({@code quarkus-run.jar}), one worker ({@code WorkerMain}) and, when built,
 * one trainer ({@code TrainerMain}).
 *
 * <p>An external Kafka or S3 from {@link LocalSettings} is used instead of starting one. {@link
 * #close()} (also run by a shutdown hook, so Ctrl-C works) stops the worker and gateway, then S3Proxy
 * and the broker: SIGTERM, a grace period, then SIGKILL, so no child outlives it.
 */
public final class LocalMode implements AutoCloseable {
    public static final String GATEWAY = "gateway";
    public static final String WORKER = "worker";
    public static final String TRAINER = "trainer";
    public static final String REGISTRY = "model-registry";
    /** Heap of the gateway process. */
    public static final String GATEWAY_HEAP = "-Xmx512m";
    /** Heap of the worker process (the engine's tensors live off-heap). */
    public static final String WORKER_HEAP = "-Xmx2g";

    private static final SecureRandom RANDOM = new SecureRandom();

    private final LocalSettings settings;
    private final List<ChildProcess> infrastructure = new ArrayList<>();
    private final List<ChildProcess> services = new ArrayList<>();
    private final Thread shutdownHook;
    private final Map<String, String> workerEnv = new HashMap<>();
    private final Map<String, String> gatewayEnv = new HashMap<>();
    private String kafkaBootstrap;
    private StoreConfig store;
    private String apiKey;
    private String gatewayUrl;
    private boolean closed;

    private LocalMode(LocalSettings settings) {
        this.settings = settings;
        this.shutdownHook = new Thread(this::stopAll, "animatediff-local-shutdown");
    }

    /**
     * Starts every component and waits until each is ready; on failure stops whatever started and
     * throws naming the component (its log tail in {@link ComponentException#report()}).
     */
    public static LocalMode start(LocalSettings settings, PrintStream progress) throws ComponentException {
        return start(settings, progress, Map.of());
    }

    /** {@link #start(LocalSettings, PrintStream)} with extra environment for every worker process. */
    public static LocalMode start(LocalSettings settings, PrintStream progress, Map<String, String> workerEnv)
            throws ComponentException {
        return start(settings, progress, workerEnv, Map.of());
    }

    /**
     * {@link #start(LocalSettings, PrintStream, Map)} with extra environment for every gateway
     * process too (e.g. {@code ANIMATEDIFF_WEBHOOK_ALLOWED_URLS} and {@code
     * ANIMATEDIFF_WEBHOOK_SECRET}; without it the gateway inherits them from this process).
     */
    public static LocalMode start(
            LocalSettings settings, PrintStream progress, Map<String, String> workerEnv, Map<String, String> gatewayEnv)
            throws ComponentException {
        LocalMode mode = new LocalMode(settings);
        mode.workerEnv.putAll(workerEnv);
        mode.gatewayEnv.putAll(gatewayEnv);
        Runtime.getRuntime().addShutdownHook(mode.shutdownHook);
        try {
            mode.startAll(progress);
            return mode;
        } catch (ComponentException | RuntimeException e) {
            mode.close();
            throw e;
        }
    }

    private void startAll(PrintStream progress) throws ComponentException {
        LocalLayout layout = settings.layout();
        Duration timeout = settings.startupTimeout();
        if (settings.services()) {
            // fail before starting anything when the services are not built
            layout.requireBuilt(GATEWAY, layout.gatewayJar());
            layout.requireBuilt(WORKER, layout.workerClasses());
            layout.requireBuilt(WORKER, layout.workerLib());
        }
        if (settings.externalStore().isPresent()) {
            store = settings.externalStore().get();
            progress.println("s3       external " + store.endpoint() + " (bucket " + store.bucket() + ")");
            S3ProxyProcess.awaitBucket(store, null, null, timeout);
        } else {
            progress.println("s3       starting S3Proxy on " + layout.s3Dir() + " ...");
            S3ProxyProcess.Started s3 =
                    S3ProxyProcess.start(layout, StoreConfig.DEFAULT_BUCKET, timeout, p -> adopt(infrastructure, p));
            store = s3.store();
            progress.println("s3       ready at " + store.endpoint() + " (log "
                    + s3.process().log() + ")");
        }
        if (settings.externalKafka().isPresent()) {
            kafkaBootstrap = settings.externalKafka().get();
            progress.println("kafka    external " + kafkaBootstrap);
            KafkaProcess.awaitReady(kafkaBootstrap, null, null, timeout);
        } else {
            progress.println("kafka    starting a KRaft broker in " + layout.kafkaDir() + " ...");
            KafkaProcess.Started kafka = KafkaProcess.start(layout, timeout, p -> adopt(infrastructure, p));
            kafkaBootstrap = kafka.bootstrap();
            progress.println("kafka    ready at " + kafkaBootstrap + " (log "
                    + kafka.process().log() + ")");
        }
        KafkaProcess.createTopics(kafkaBootstrap, kafkaLog());
        if (!settings.services()) {
            return;
        }
        progress.println("models   registering base 'builtin' and motion 'builtin'"
                + (WorldModels.available()
                        ? ", the trained world models (bases '" + WorldModels.BASE + "', '" + WorldModels.PERSONALIZED
                                + "', motion '" + WorldModels.MOTION + "', LoRA '" + WorldModels.LORA + "')"
                        : "")
                + " ...");
        registerBuiltinModels(layout);
        apiKey = settings.apiKey() != null ? settings.apiKey() : newApiKey();
        int gatewayPort = settings.gatewayPort() > 0 ? settings.gatewayPort() : Ports.free();
        int workerHealthPort = Ports.free();
        progress.println("services starting the gateway and a worker ...");
        ChildProcess gateway = startGateway(layout, gatewayPort, GATEWAY);
        ChildProcess worker = startWorker(layout, workerHealthPort, "local-worker-1", WORKER, layout.cacheDir());
        gatewayUrl = "http://" + Ports.LOOPBACK + ":" + gatewayPort;
        Readiness.await(
                GATEWAY,
                gateway,
                gateway.log(),
                timeout,
                "GET " + gatewayUrl + "/q/health/ready answers 200",
                Readiness.http200(gatewayUrl + "/q/health/ready"));
        progress.println("gateway  ready at " + gatewayUrl + " (log " + gateway.log() + ")");
        String workerReady = "http://" + Ports.LOOPBACK + ":" + workerHealthPort + "/ready";
        Readiness.await(
                WORKER,
                worker,
                worker.log(),
                timeout,
                "GET " + workerReady + " answers 200",
                Readiness.http200(workerReady));
        progress.println("worker   ready (log " + worker.log() + ")");
        startTrainer(layout, progress);
    }

    /** The trainer process (TrainerMain), when built: it consumes animatediff.train. */
    private void startTrainer(LocalLayout layout, PrintStream progress) throws ComponentException {
        if (!Files.isDirectory(layout.trainerLib())) {
            progress.println("trainer  not built (" + layout.trainerLib() + " missing: ./mvnw -pl trainer -am package);"
                    + " training jobs stay queued");
            return;
        }
        Map<String, String> env = commonEnv();
        env.put("ANIMATEDIFF_TRAINER_ID", "local-trainer-1");
        env.put(
                "ANIMATEDIFF_TRAINER_WORK_DIR",
                layout.stateDir().resolve("trainer").toString());
        env.put("DJL_OFFLINE", "true");
        ChildProcess p = ChildProcess.start(
                TRAINER,
                List.of(
                        LocalLayout.java(),
                        WORKER_HEAP,
                        "-Dai.djl.offline=true",
                        "-Dai.djl.pytorch.num_threads=" + Math.max(1, settings.workerThreads()),
                        "-Dai.djl.pytorch.num_interop_threads=1",
                        "-cp",
                        layout.trainerClasses() + java.io.File.pathSeparator + layout.trainerLib() + "/*",
                        "io.animatediff.trainer.TrainerMain"),
                env,
                layout.stateDir(),
                layout.log(TRAINER));
        adopt(services, p);
        progress.println("trainer  started, consuming animatediff.train (log " + p.log() + ")");
    }

    private void registerBuiltinModels(LocalLayout layout) throws ComponentException {
        try (ObjectStore objects = new ObjectStore(store)) {
            ModelRegistry registry = new ModelRegistry(objects);
            BuiltinModels.register(registry, layout.builtinDir());
            if (WorldModels.available()) {
                BuiltinModels.registerWorld(registry, layout.builtinDir().resolve("world"));
            }
        } catch (RuntimeException e) {
            throw new ComponentException(
                    REGISTRY,
                    "could not register the built-in models in " + store.endpoint() + " bucket " + store.bucket() + ": "
                            + e.getMessage(),
                    infrastructureLog(S3ProxyProcess.COMPONENT),
                    e);
        }
    }

    private ChildProcess startGateway(LocalLayout layout, int port, String name) throws ComponentException {
        Map<String, String> env = commonEnv();
        env.put("QUARKUS_HTTP_PORT", Integer.toString(port));
        env.put("QUARKUS_HTTP_HOST", Ports.LOOPBACK);
        env.put("ANIMATEDIFF_API_KEY_HASHES", Sha256.hex(apiKey.getBytes(StandardCharsets.UTF_8)));
        env.putAll(gatewayEnv);
        ChildProcess p = ChildProcess.start(
                name,
                List.of(
                        LocalLayout.java(),
                        GATEWAY_HEAP,
                        "-jar",
                        layout.gatewayJar().toString()),
                env,
                layout.stateDir(),
                layout.log(name));
        adopt(services, p);
        return p;
    }

    private ChildProcess startWorker(LocalLayout layout, int healthPort, String workerId, String name, Path cacheDir)
            throws ComponentException {
        Map<String, String> env = commonEnv();
        env.put("ANIMATEDIFF_CACHE_DIR", cacheDir.toString());
        env.put("ANIMATEDIFF_WORKER_ID", workerId);
        env.put("ANIMATEDIFF_WORKER_HEALTH_PORT", Integer.toString(healthPort));
        env.put("DJL_OFFLINE", "true");
        env.putAll(workerEnv);
        int threads = Math.max(1, settings.workerThreads());
        ChildProcess p = ChildProcess.start(
                WORKER,
                List.of(
                        LocalLayout.java(),
                        WORKER_HEAP,
                        "-Dai.djl.offline=true",
                        "-Dai.djl.pytorch.num_threads=" + threads,
                        "-Dai.djl.pytorch.num_interop_threads=1",
                        "-cp",
                        layout.workerClasses() + java.io.File.pathSeparator + layout.workerLib() + "/*",
                        "io.animatediff.worker.WorkerMain"),
                env,
                layout.stateDir(),
                layout.log(name));
        adopt(services, p);
        return p;
    }

    /**
     * Starts one more worker process ({@code worker-<id>}, its own disk cache and log) and waits
     * until it is ready; {@link FaultInjector} uses it to replace killed workers.
     */
    public ChildProcess addWorker(String workerId) throws ComponentException {
        LocalLayout layout = settings.layout();
        int healthPort = Ports.free();
        String name = WORKER + "-" + workerId;
        ChildProcess p = startWorker(
                layout, healthPort, workerId, name, layout.cacheDir().resolve(workerId));
        String ready = "http://" + Ports.LOOPBACK + ":" + healthPort + "/ready";
        Readiness.await(
                name, p, p.log(), settings.startupTimeout(), "GET " + ready + " answers 200", Readiness.http200(ready));
        return p;
    }

    /**
     * Starts another gateway process (a second replica, or a restart when {@code port} is the
     * port of one that was stopped) with the same Kafka, store and API key; returns its URL once
     * it is ready. Its state view is folded from {@code animatediff.job-events} like the first's.
     */
    public String addGateway(String name, int port) throws ComponentException {
        LocalLayout layout = settings.layout();
        ChildProcess p = startGateway(layout, port, name);
        String url = "http://" + Ports.LOOPBACK + ":" + port;
        Readiness.await(
                name,
                p,
                p.log(),
                settings.startupTimeout(),
                "GET " + url + "/q/health/ready answers 200",
                Readiness.http200(url + "/q/health/ready"));
        return url;
    }

    /** Worker settings added to every worker started from now on (e.g. max attempts, poll interval). */
    public void workerEnvironment(Map<String, String> env) {
        workerEnv.putAll(env);
    }

    /** Forgets a process that was stopped on purpose (fault injection), so {@link #firstDead()} skips it. */
    public synchronized void forget(ChildProcess p) {
        services.remove(p);
        infrastructure.remove(p);
    }

    /** Adopts a replacement infrastructure process (a restarted broker or S3Proxy). */
    synchronized void adoptInfrastructure(ChildProcess p) throws ComponentException {
        adopt(infrastructure, p);
    }

    /** Owns a freshly spawned process; stops it at once when local mode is already shutting down. */
    private void adopt(List<ChildProcess> group, ChildProcess p) throws ComponentException {
        synchronized (this) {
            if (!closed) {
                group.add(p);
                return;
            }
        }
        p.close();
        throw new ComponentException(p.name(), "was stopped: local mode is shutting down", p.log());
    }

    /** Kafka and S3 settings every service gets (fleet contract). */
    private Map<String, String> commonEnv() {
        Map<String, String> env = new HashMap<>();
        env.put(LocalSettings.ENV_KAFKA, kafkaBootstrap);
        env.put(StoreConfig.ENV_ENDPOINT, store.endpoint());
        env.put(StoreConfig.ENV_ACCESS_KEY, store.accessKey());
        env.put(StoreConfig.ENV_SECRET_KEY, store.secretKey());
        env.put(StoreConfig.ENV_BUCKET, store.bucket());
        env.put(StoreConfig.ENV_REGION, store.region());
        return env;
    }

    /** A fresh API key: {@code adk_} + 32 random bytes, base64url. */
    public static String newApiKey() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return "adk_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** {@code http://127.0.0.1:<port>} of the gateway (null without services). */
    public String gatewayUrl() {
        return gatewayUrl;
    }

    /** The API key the gateway accepts (null without services). */
    public String apiKey() {
        return apiKey;
    }

    public String kafkaBootstrap() {
        return kafkaBootstrap;
    }

    public StoreConfig store() {
        return store;
    }

    public LocalSettings settings() {
        return settings;
    }

    /** Every child process started, in start order. */
    public synchronized List<ChildProcess> processes() {
        List<ChildProcess> all = new ArrayList<>(infrastructure);
        all.addAll(services);
        return all;
    }

    /** The child process of a component, if local mode started it. */
    public Optional<ChildProcess> process(String component) {
        return processes().stream().filter(p -> p.name().equals(component)).findFirst();
    }

    /** The log of a component (it may not exist when the component is external). */
    public Path log(String component) {
        return settings.layout().log(component);
    }

    private Path kafkaLog() {
        return infrastructureLog(KafkaProcess.COMPONENT);
    }

    private Path infrastructureLog(String component) {
        return process(component).map(ChildProcess::log).orElse(null);
    }

    /** The first component whose process has exited, if any (none once local mode is stopping). */
    public Optional<ChildProcess> firstDead() {
        if (isClosed()) {
            return Optional.empty();
        }
        return processes().stream().filter(p -> !p.isAlive()).findFirst();
    }

    /** Whether {@link #close()} (or the shutdown hook) has begun stopping everything. */
    public synchronized boolean isClosed() {
        return closed;
    }

    /** Stops everything (idempotent). */
    @Override
    public void close() {
        stopAll();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook is running or has run
        }
    }

    private synchronized void stopAll() {
        if (closed) {
            return;
        }
        closed = true;
        stopInParallel(services);
        stopInParallel(infrastructure);
    }

    /** SIGTERM to all, then each gets the grace period before SIGKILL. */
    private static void stopInParallel(List<ChildProcess> processes) {
        List<ChildProcess> reversed = new ArrayList<>(processes);
        java.util.Collections.reverse(reversed);
        List<List<ProcessHandle>> descendants = new ArrayList<>();
        for (ChildProcess p : reversed) {
            descendants.add(p.requestStop());
        }
        for (int i = 0; i < reversed.size(); i++) {
            reversed.get(i).awaitStop(ChildProcess.STOP_GRACE, descendants.get(i));
        }
    }
}
