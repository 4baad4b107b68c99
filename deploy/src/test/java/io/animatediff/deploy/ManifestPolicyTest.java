package io.animatediff.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.TrainingRequest;
import io.animatediff.common.validation.TrainingRequestValidator;
import io.animatediff.common.validation.Violation;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Policy over {@code k8s/}: every manifest binds to fabric8's typed model; kustomizations reference
 * only files that exist and every file is referenced; workloads have resources, probes, pinned image
 * tags, non-root security contexts; GPU pods have {@code nvidia.com/gpu} limits; topics are exactly
 * {@link Topics}'; KEDA scales the worker on the {@code workers} group's lag and never beyond the
 * generate topic's partitions; the retraining CronJob's body is a valid {@link TrainingRequest}.
 */
class ManifestPolicyTest {
    static final Path ROOT = Manifests.projectRoot();
    static final Path K8S = ROOT.resolve("k8s");
    static final Path BASE = K8S.resolve("base");
    static final List<Path> OVERLAYS = List.of(K8S.resolve("overlays/dev"), K8S.resolve("overlays/prod"));
    static final String GPU = "nvidia.com/gpu";

    /** Documents of resource files (complete objects) per kustomization dir; patches separately. */
    static final Map<Path, List<Manifests.Doc>> RESOURCES = new LinkedHashMap<>();

    static final Map<Path, List<Manifests.Doc>> PATCHES = new LinkedHashMap<>();

    @BeforeAll
    static void load() {
        for (Path dir : kustomizationDirs()) {
            JsonNode k = kustomization(dir);
            Set<Path> patchFiles = new TreeSet<>();
            k.path("patches")
                    .forEach(p ->
                            patchFiles.add(dir.resolve(p.path("path").asText()).normalize()));
            List<Manifests.Doc> res = new ArrayList<>();
            List<Manifests.Doc> pat = new ArrayList<>();
            for (Manifests.Doc d : Manifests.load(dir)) {
                if (!d.file().getParent().equals(dir)) {
                    continue;
                }
                (patchFiles.contains(d.file().normalize()) ? pat : res).add(d);
            }
            RESOURCES.put(dir, res);
            PATCHES.put(dir, pat);
        }
    }

    static List<Path> kustomizationDirs() {
        List<Path> dirs = new ArrayList<>();
        dirs.add(BASE);
        dirs.addAll(OVERLAYS);
        return dirs;
    }

    static JsonNode kustomization(Path dir) {
        Path f = dir.resolve("kustomization.yaml");
        assertTrue(Files.isRegularFile(f), "missing " + f);
        return Manifests.trees(f).get(0);
    }

    static List<Manifests.Doc> all() {
        List<Manifests.Doc> all = new ArrayList<>();
        RESOURCES.values().forEach(all::addAll);
        PATCHES.values().forEach(all::addAll);
        return all;
    }

    static List<Manifests.Doc> resources() {
        return RESOURCES.values().stream().flatMap(List::stream).toList();
    }

    static <T> List<T> ofType(Class<T> type) {
        return resources().stream()
                .map(Manifests.Doc::typed)
                .filter(type::isInstance)
                .map(type::cast)
                .toList();
    }

    static List<Manifests.Doc> custom(String kind) {
        return resources().stream().filter(d -> d.kind().equals(kind)).toList();
    }

    @Test
    void everyManifestBindsToTheTypedModel() {
        Map<String, Class<?>> typed = Map.ofEntries(
                Map.entry("Namespace", Namespace.class),
                Map.entry("Deployment", Deployment.class),
                Map.entry("Service", Service.class),
                Map.entry("HorizontalPodAutoscaler", HorizontalPodAutoscaler.class),
                Map.entry("PodDisruptionBudget", PodDisruptionBudget.class),
                Map.entry("Job", Job.class),
                Map.entry("CronJob", CronJob.class),
                Map.entry("NetworkPolicy", NetworkPolicy.class),
                Map.entry("ConfigMap", ConfigMap.class),
                Map.entry("Secret", Secret.class),
                Map.entry("PersistentVolumeClaim", PersistentVolumeClaim.class));
        Set<String> customKinds = Set.of("Kafka", "KafkaNodePool", "KafkaTopic", "ScaledObject");
        List<Manifests.Doc> docs = all();
        assertTrue(
                docs.size() >= 30, "expected the whole fleet under " + K8S + ", found " + docs.size() + " documents");
        for (Manifests.Doc d : docs) {
            assertFalse(d.tree().path("apiVersion").asText().isEmpty(), d.where() + ": no apiVersion");
            assertFalse(d.name().isEmpty(), d.where() + ": no metadata.name");
            if (customKinds.contains(d.kind())) {
                assertInstanceOf(GenericKubernetesResource.class, d.typed(), d.where());
            } else {
                Class<?> expected = typed.get(d.kind());
                assertTrue(expected != null, d.where() + ": kind not covered by the policy test: add it");
                assertInstanceOf(expected, d.typed(), d.where());
            }
        }
    }

    @Test
    void kustomizationsReferenceExistingFilesAndEveryFileIsReferenced() {
        for (Path dir : kustomizationDirs()) {
            JsonNode k = kustomization(dir);
            Set<Path> referenced = new TreeSet<>();
            for (JsonNode r : k.path("resources")) {
                Path p = dir.resolve(r.asText()).normalize();
                assertTrue(Files.exists(p), dir + "/kustomization.yaml names resource " + r.asText() + ": missing");
                if (Files.isDirectory(p)) {
                    assertTrue(Files.isRegularFile(p.resolve("kustomization.yaml")), p + " has no kustomization.yaml");
                }
                referenced.add(p);
            }
            for (JsonNode r : k.path("patches")) {
                Path p = dir.resolve(r.path("path").asText()).normalize();
                assertTrue(Files.isRegularFile(p), dir + "/kustomization.yaml names patch " + p + ": missing");
                referenced.add(p);
            }
            for (Path f : Manifests.yamlFiles(dir)) {
                if (f.getParent().equals(dir) && !f.getFileName().toString().equals("kustomization.yaml")) {
                    assertTrue(
                            referenced.contains(f.normalize()),
                            f + " is not referenced by " + dir + "/kustomization.yaml");
                }
            }
            for (JsonNode img : k.path("images")) {
                String tag = img.path("newTag").asText();
                assertFalse(tag.isEmpty() || tag.equals("latest"), dir + ": image " + img + " needs a pinned newTag");
            }
            assertEquals("animatediff", k.path("namespace").asText(), dir + ": namespace");
        }
        assertTrue(
                RESOURCES.get(K8S.resolve("overlays/dev")).stream()
                        .anyMatch(d -> d.name().equals("minio")),
                "the dev overlay deploys MinIO");
    }

    @Test
    void workloadsHaveResourcesPinnedImagesProbesAndRunAsNonRoot() {
        int containers = 0;
        for (Manifests.Doc d : resources()) {
            PodTemplateSpec template = template(d);
            if (template == null) {
                continue;
            }
            PodSpec pod = template.getSpec();
            assertEquals(Boolean.TRUE, pod.getSecurityContext().getRunAsNonRoot(), d.where() + ": runAsNonRoot");
            assertEquals(
                    "RuntimeDefault",
                    pod.getSecurityContext().getSeccompProfile().getType(),
                    d.where());
            for (Container c : pod.getContainers()) {
                containers++;
                String where = d.where() + " container " + c.getName();
                String image = c.getImage();
                int colon = image.lastIndexOf(':');
                assertTrue(colon > image.lastIndexOf('/'), where + ": image " + image + " has no tag");
                assertFalse(image.endsWith(":latest"), where + ": image " + image + " uses latest");
                ResourceRequirements r = c.getResources();
                for (String res : List.of("cpu", "memory")) {
                    assertTrue(r.getRequests().containsKey(res), where + ": no " + res + " request");
                    assertTrue(r.getLimits().containsKey(res), where + ": no " + res + " limit");
                    assertTrue(
                            Quantity.getAmountInBytes(r.getRequests().get(res))
                                            .compareTo(Quantity.getAmountInBytes(
                                                    r.getLimits().get(res)))
                                    <= 0,
                            where + ": " + res + " request above its limit");
                }
                assertEquals(Boolean.FALSE, c.getSecurityContext().getAllowPrivilegeEscalation(), where);
                assertTrue(c.getSecurityContext().getCapabilities().getDrop().contains("ALL"), where + ": drop ALL");
                if (d.typed() instanceof Deployment) {
                    assertTrue(c.getReadinessProbe() != null, where + ": no readinessProbe");
                    assertTrue(c.getLivenessProbe() != null, where + ": no livenessProbe");
                }
            }
        }
        assertTrue(containers >= 5, "gateway, worker, trainer, retrain and minio containers, found " + containers);
    }

    @Test
    void gpuWorkloadsRequestAndLimitOneGpuAndWorkersAreReadyOnceWarm() {
        for (String name : List.of("animatediff-worker", "animatediff-trainer")) {
            Manifests.Doc d = resources().stream()
                    .filter(x -> x.name().equals(name) && template(x) != null)
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no workload " + name));
            Container c = template(d).getSpec().getContainers().get(0);
            Quantity limit = c.getResources().getLimits().get(GPU);
            assertTrue(limit != null, d.where() + ": no " + GPU + " limit");
            assertEquals(1, limit.getNumericalAmount().intValueExact(), d.where() + ": one GPU per pod");
            assertEquals(limit, c.getResources().getRequests().get(GPU), d.where() + ": GPU request == limit");
            assertTrue(
                    template(d).getSpec().getTolerations().stream().anyMatch(t -> GPU.equals(t.getKey())),
                    d.where() + ": tolerates the GPU taint");
        }
        Deployment worker = deployment("animatediff-worker");
        Container c = worker.getSpec().getTemplate().getSpec().getContainers().get(0);
        Probe ready = c.getReadinessProbe();
        assertEquals("/ready", ready.getHttpGet().getPath(), "worker readiness = HealthServer /ready (engine warm)");
        String port = env(c).get("ANIMATEDIFF_WORKER_HEALTH_PORT");
        int containerPort = c.getPorts().stream()
                .filter(p -> p.getName().equals(ready.getHttpGet().getPort().getStrVal()))
                .findFirst()
                .orElseThrow()
                .getContainerPort();
        assertEquals(port, Integer.toString(containerPort), "readiness probes the port the worker listens on");
        Deployment gateway = deployment("animatediff-gateway");
        Container g = gateway.getSpec().getTemplate().getSpec().getContainers().get(0);
        assertEquals("/q/health/ready", g.getReadinessProbe().getHttpGet().getPath());
        assertTrue(g.getResources().getLimits().get(GPU) == null, "the gateway needs no GPU");
    }

    @Test
    void topicsAreExactlyTheCommonConstants() {
        Set<String> expected =
                Set.of(Topics.GENERATE, Topics.TRAIN, Topics.JOB_EVENTS, Topics.GENERATE_DLQ, Topics.CANCEL);
        Map<String, JsonNode> topics = new HashMap<>();
        for (Manifests.Doc d : RESOURCES.get(BASE)) {
            if (d.kind().equals("KafkaTopic")) {
                assertEquals(
                        "animatediff",
                        d.tree().at("/metadata/labels/strimzi.io~1cluster").asText(),
                        d.where());
                topics.put(d.tree().at("/spec/topicName").asText(), d.tree().get("spec"));
            }
        }
        assertEquals(expected, topics.keySet(), "KafkaTopic topicNames vs io.animatediff.common.Topics");
        assertEquals(
                "compact",
                topics.get(Topics.JOB_EVENTS).at("/config/cleanup.policy").asText());
        // every patched topic exists in the base
        Set<String> baseNames = RESOURCES.get(BASE).stream()
                .filter(d -> d.kind().equals("KafkaTopic"))
                .map(Manifests.Doc::name)
                .collect(Collectors.toSet());
        for (Path o : OVERLAYS) {
            for (Manifests.Doc p : PATCHES.get(o)) {
                if (p.kind().equals("KafkaTopic")) {
                    assertTrue(baseNames.contains(p.name()), p.where() + " patches a topic the base lacks");
                }
            }
        }
        Manifests.Doc kafka = custom("Kafka").get(0);
        assertEquals(
                "enabled",
                kafka.tree().at("/metadata/annotations/strimzi.io~1kraft").asText(),
                "KRaft");
        assertEquals(1, custom("KafkaNodePool").size());
    }

    @Test
    void kedaScalesWorkersOnTheWorkersGroupLagWithinThePartitions() {
        Manifests.Doc so = custom("ScaledObject").get(0);
        assertEquals(
                "animatediff-worker", so.tree().at("/spec/scaleTargetRef/name").asText());
        deployment("animatediff-worker");
        JsonNode trigger = so.tree().at("/spec/triggers/0");
        assertEquals("kafka", trigger.path("type").asText());
        assertEquals(Topics.WORKERS_GROUP, trigger.at("/metadata/consumerGroup").asText());
        assertEquals(Topics.GENERATE, trigger.at("/metadata/topic").asText());
        assertTrue(trigger.at("/metadata/bootstrapServers").asText().startsWith("animatediff-kafka-bootstrap"));
        int lag = Integer.parseInt(trigger.at("/metadata/lagThreshold").asText());
        assertTrue(lag >= 1 && lag <= 5, "GPU jobs are long: a small lag threshold per worker, got " + lag);
        for (Path overlay : OVERLAYS) {
            int max = effective(overlay, "ScaledObject", "animatediff-worker", "/spec/maxReplicaCount");
            int min = effective(overlay, "ScaledObject", "animatediff-worker", "/spec/minReplicaCount");
            int partitions = effective(overlay, "KafkaTopic", "animatediff-generate", "/spec/partitions");
            assertTrue(min >= 1, overlay + ": keep one warm GPU worker");
            assertTrue(
                    max <= partitions,
                    overlay + ": maxReplicaCount " + max + " > " + partitions + " partitions (idle GPUs)");
        }
        // the gateway's HPA and PDB point at the gateway
        HorizontalPodAutoscaler hpa = ofType(HorizontalPodAutoscaler.class).get(0);
        assertEquals("animatediff-gateway", hpa.getSpec().getScaleTargetRef().getName());
        Map<String, String> gatewayLabels = deployment("animatediff-gateway")
                .getSpec()
                .getTemplate()
                .getMetadata()
                .getLabels();
        for (PodDisruptionBudget pdb : ofType(PodDisruptionBudget.class)) {
            String target = pdb.getMetadata().getName();
            Map<String, String> labels =
                    deployment(target).getSpec().getTemplate().getMetadata().getLabels();
            assertTrue(
                    labels.entrySet()
                            .containsAll(
                                    pdb.getSpec().getSelector().getMatchLabels().entrySet()),
                    target);
        }
        for (Service s : ofType(Service.class)) {
            Map<String, String> sel = s.getSpec().getSelector();
            boolean matches = resources().stream()
                    .map(ManifestPolicyTest::template)
                    .filter(t -> t != null)
                    .anyMatch(t -> t.getMetadata().getLabels().entrySet().containsAll(sel.entrySet()));
            assertTrue(matches, "Service " + s.getMetadata().getName() + " selects no pods");
        }
        assertTrue(gatewayLabels.containsKey("app.kubernetes.io/name"));
    }

    @Test
    void retrainCronJobPostsAValidTrainingRequestToTheGateway() {
        CronJob cron = ofType(CronJob.class).get(0);
        String script = String.join(
                " ",
                cron.getSpec()
                        .getJobTemplate()
                        .getSpec()
                        .getTemplate()
                        .getSpec()
                        .getContainers()
                        .get(0)
                        .getCommand());
        assertTrue(script.contains("POST \"http://animatediff-gateway/v1/trainings\""), script);
        assertTrue(script.contains("Idempotency-Key"), "a doubled run must not queue twice: " + script);
        ConfigMap body = ofType(ConfigMap.class).stream()
                .filter(c -> c.getMetadata().getName().equals("animatediff-retrain"))
                .findFirst()
                .orElseThrow();
        TrainingRequest request = Json.readStrict(body.getData().get("request.json"), TrainingRequest.class);
        List<Violation> violations = new TrainingRequestValidator((kind, name) -> true).validate(request, 32);
        assertTrue(Violation.errors(violations).isEmpty(), "retrain request: " + violations);
        assertFalse(ofType(Job.class).isEmpty(), "the trainer Job");
    }

    @Test
    void networkPoliciesDenyByDefaultAndAdmitTheGateway() {
        List<NetworkPolicy> policies = ofType(NetworkPolicy.class);
        assertTrue(
                policies.stream()
                        .anyMatch(p -> p.getSpec().getPodSelector().getMatchLabels() == null
                                || p.getSpec().getPodSelector().getMatchLabels().isEmpty()
                                        && p.getSpec().getPolicyTypes().contains("Ingress")
                                        && (p.getSpec().getIngress() == null
                                                || p.getSpec().getIngress().isEmpty())),
                "a default-deny ingress policy");
        assertTrue(policies.stream()
                .anyMatch(p -> "animatediff-gateway"
                        .equals(p.getSpec().getPodSelector().getMatchLabels().get("app.kubernetes.io/name"))));
    }

    @Test
    void composeParsesAndNamesTheSameEnvironmentAsTheManifests() throws Exception {
        Map<String, Map<String, Object>> compose = ComposeFile.services(ROOT.resolve("docker/compose.yaml"));
        assertEquals(Set.of("kafka", "minio", "gateway", "worker", "trainer"), compose.keySet());
        String contract = Files.readString(ROOT.resolve("docs/fleet-contract.md"));
        for (String service : List.of("gateway", "worker", "trainer")) {
            Set<String> composeEnv =
                    ComposeFile.environment(compose.get(service)).keySet();
            Set<String> k8sEnv = k8sEnvironment("animatediff-" + service);
            for (String name : composeEnv) {
                assertTrue(k8sEnv.contains(name), service + ": compose sets " + name + ", the manifests do not");
                assertTrue(
                        contract.contains("`" + name + "`") || contract.contains(name),
                        service + ": " + name + " is not documented in docs/fleet-contract.md");
            }
            for (String name : k8sEnv) {
                assertTrue(contract.contains(name), service + ": k8s sets " + name + ", undocumented in the contract");
            }
            String image = String.valueOf(compose.get(service).get("image"));
            assertTrue(image.startsWith("animatediff/" + service + ":") && !image.endsWith(":latest"), image);
            Map<?, ?> build = (Map<?, ?>) compose.get(service).get("build");
            Path dockerfile = ROOT.resolve("docker")
                    .resolve(String.valueOf(build.get("context")))
                    .resolve(String.valueOf(build.get("dockerfile")))
                    .normalize();
            String text = Files.readString(dockerfile);
            assertTrue(text.contains("\nUSER 10001"), dockerfile + " runs as non-root");
            assertTrue(text.contains("\nHEALTHCHECK"), dockerfile + " has a HEALTHCHECK");
            assertTrue(text.contains("docker build -f docker/" + service + ".Dockerfile"), dockerfile + " header");
        }
        String worker = Files.readString(ROOT.resolve("docker/worker.Dockerfile"));
        assertTrue(worker.contains("PYTORCH_LIBRARY_PATH=/opt/libtorch"), "CUDA libtorch through PYTORCH_LIBRARY_PATH");
        assertTrue(worker.contains("rm -f worker/target/lib/pytorch-native-cpu-"), "no CPU libtorch in the GPU image");
        for (Map.Entry<String, Map<String, Object>> s : compose.entrySet()) {
            String image = String.valueOf(s.getValue().get("image"));
            assertTrue(image.contains(":") && !image.endsWith(":latest"), s.getKey() + ": pinned image " + image);
        }
        Map<String, String> gatewayEnv = ComposeFile.environment(compose.get("gateway"));
        assertEquals("kafka:9092", gatewayEnv.get("KAFKA_BOOTSTRAP_SERVERS"));
        assertEquals("http://minio:9000", gatewayEnv.get("ANIMATEDIFF_S3_ENDPOINT"));
    }

    /** Env names a workload's first container gets: env entries plus every key of its envFrom sources. */
    static Set<String> k8sEnvironment(String workload) {
        Manifests.Doc d = RESOURCES.get(BASE).stream()
                .filter(x -> x.name().equals(workload) && template(x) != null)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no workload " + workload));
        Container c = template(d).getSpec().getContainers().get(0);
        Set<String> names = new TreeSet<>(env(c).keySet());
        for (EnvFromSource from : c.getEnvFrom()) {
            String source = from.getConfigMapRef() != null
                    ? from.getConfigMapRef().getName()
                    : from.getSecretRef().getName();
            for (Manifests.Doc x : RESOURCES.get(BASE)) {
                if (x.name().equals(source) && x.typed() instanceof ConfigMap cm) {
                    names.addAll(cm.getData().keySet());
                } else if (x.name().equals(source) && x.typed() instanceof Secret s) {
                    names.addAll(s.getStringData().keySet());
                }
            }
        }
        return names;
    }

    static Map<String, String> env(Container c) {
        Map<String, String> m = new LinkedHashMap<>();
        for (EnvVar e : c.getEnv()) {
            m.put(e.getName(), e.getValue());
        }
        return m;
    }

    /** The integer at {@code pointer} of a custom resource in an overlay: its patch if any, else the base. */
    static int effective(Path overlay, String kind, String name, String pointer) {
        for (Manifests.Doc p : PATCHES.get(overlay)) {
            if (p.kind().equals(kind)
                    && p.name().equals(name)
                    && !p.tree().at(pointer).isMissingNode()) {
                return p.tree().at(pointer).asInt();
            }
        }
        return RESOURCES.get(BASE).stream()
                .filter(d -> d.kind().equals(kind) && d.name().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name + " in the base"))
                .tree()
                .at(pointer)
                .asInt();
    }

    static Deployment deployment(String name) {
        return ofType(Deployment.class).stream()
                .filter(d -> d.getMetadata().getName().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no Deployment " + name));
    }

    static PodTemplateSpec template(Manifests.Doc d) {
        if (d.typed() instanceof Deployment x) {
            return x.getSpec().getTemplate();
        }
        if (d.typed() instanceof Job x) {
            return x.getSpec().getTemplate();
        }
        if (d.typed() instanceof CronJob x) {
            return x.getSpec().getJobTemplate().getSpec().getTemplate();
        }
        return null;
    }
}
