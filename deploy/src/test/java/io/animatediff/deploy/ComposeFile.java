package io.animatediff.deploy;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/** {@code docker/compose.yaml} read with SnakeYAML (anchors and {@code <<} merge keys resolved). */
final class ComposeFile {
    private ComposeFile() {}

    @SuppressWarnings("unchecked")
    static Map<String, Map<String, Object>> services(Path file) throws IOException {
        try (Reader r = Files.newBufferedReader(file)) {
            Map<String, Object> root = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
            if (root == null || !(root.get("services") instanceof Map)) {
                throw new AssertionError(file + " has no services: map");
            }
            return (Map<String, Map<String, Object>>) root.get("services");
        }
    }

    /** A service's environment as a map (compose allows a map or a list of NAME=value). */
    static Map<String, String> environment(Map<String, Object> service) {
        Map<String, String> out = new LinkedHashMap<>();
        Object env = service.get("environment");
        if (env instanceof Map<?, ?> m) {
            m.forEach((k, v) -> out.put(String.valueOf(k), v == null ? "" : String.valueOf(v)));
        } else if (env instanceof List<?> l) {
            for (Object o : l) {
                String s = String.valueOf(o);
                int eq = s.indexOf('=');
                out.put(eq < 0 ? s : s.substring(0, eq), eq < 0 ? "" : s.substring(eq + 1));
            }
        }
        return out;
    }
}
