package io.animatediff.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Every YAML document under {@code k8s/}: the raw tree and the same document bound to fabric8's typed
 * Kubernetes model ({@code Deployment}, {@code Service}, ...; custom resources such as Strimzi's and
 * KEDA's become {@code GenericKubernetesResource}).
 */
final class Manifests {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** One document of one file. */
    record Doc(Path file, int index, JsonNode tree, KubernetesResource typed) {
        String kind() {
            return tree.path("kind").asText();
        }

        String name() {
            return tree.path("metadata").path("name").asText();
        }

        String where() {
            return file + " document " + index + " (" + kind() + " " + name() + ")";
        }
    }

    private Manifests() {}

    /** The checkout: {@code animatediff.home} (set by surefire), else the first parent holding {@code mvnw}. */
    static Path projectRoot() {
        String home = System.getProperty("animatediff.home");
        if (home != null && !home.isBlank()) {
            return Path.of(home).toAbsolutePath().normalize();
        }
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("mvnw"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the project root (no mvnw above "
                    + Path.of("").toAbsolutePath() + "): run the tests through Maven");
        }
        return p;
    }

    /** Every {@code .yaml}/{@code .yml} file under {@code dir}, sorted. */
    static List<Path> yamlFiles(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile)
                    .filter(f -> f.toString().endsWith(".yaml") || f.toString().endsWith(".yml"))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    /** The documents of one file as trees (empty documents dropped). */
    static List<JsonNode> trees(Path file) {
        List<JsonNode> out = new ArrayList<>();
        try (YAMLParser parser = (YAMLParser) YAML.getFactory().createParser(file.toFile())) {
            var it = YAML.readValues(parser, JsonNode.class);
            while (it.hasNext()) {
                JsonNode n = it.next();
                if (n != null && !n.isNull() && !n.isMissingNode()) {
                    out.add(n);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot parse " + file + " as YAML: " + e.getMessage(), e);
        }
        return out;
    }

    /** Every Kubernetes document (not kustomizations) of every file under {@code dir}, typed. */
    static List<Doc> load(Path dir) {
        List<Doc> docs = new ArrayList<>();
        for (Path f : yamlFiles(dir)) {
            if (f.getFileName().toString().equals("kustomization.yaml")) {
                continue;
            }
            List<JsonNode> trees = trees(f);
            for (int i = 0; i < trees.size(); i++) {
                JsonNode t = trees.get(i);
                KubernetesResource typed;
                try {
                    typed = YAML.treeToValue(t, KubernetesResource.class);
                } catch (IOException e) {
                    throw new AssertionError(
                            f + " document " + i + " does not bind to the Kubernetes model: " + e.getMessage(), e);
                }
                docs.add(new Doc(f, i, t, typed));
            }
        }
        return docs;
    }
}
