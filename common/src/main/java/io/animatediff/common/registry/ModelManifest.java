package io.animatediff.common.registry;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.animatediff.common.InvalidMessageException;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ModelNames;
import io.animatediff.common.protocol.Schema;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A registered model: {@code models/<kind>/<name>/manifest.json}. Written last when a model is
 * registered, so a manifest's presence means every file it lists is stored and verified.
 *
 * @param schema document format version ({@link Schema#CURRENT})
 * @param kind base, motion, lora or motion-lora
 * @param name the model name ({@link ModelNames})
 * @param format file layout, tells the engine how to load it
 * @param files every file with its sha256 and size (at least one, unique paths)
 * @param config free-form settings the engine needs (e.g. {@value #CONFIG_MAX_FRAMES} for a
 *     motion module, the LoRA alpha); JSON values
 * @param createdAt when it was registered
 * @param owner who registered it (the gateway's owner tag of the uploading API key), or null for a
 *     model registered without one (operator tools, built-in models, training, manifests written
 *     before the field existed); 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'
 */
@JsonPropertyOrder({"schema", "kind", "name", "format", "owner", "created_at", "files", "config"})
public record ModelManifest(
        @JsonProperty(value = "schema", required = true) int schema,
        @JsonProperty("kind") ModelKind kind,
        @JsonProperty("name") String name,
        @JsonProperty("format") ModelFormat format,
        @JsonProperty("files") List<ModelFile> files,
        @JsonProperty("config") Map<String, Object> config,
        @JsonProperty("created_at") Instant createdAt,
        @JsonProperty("owner") String owner) {

    /** Config key of a motion module's position-encoding length: the most frames it can render. */
    public static final String CONFIG_MAX_FRAMES = "max_frames";

    private static final Pattern OWNER = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

    public ModelManifest {
        Schema.check(schema, "model manifest");
        if (kind == null) {
            throw new InvalidMessageException("kind", "required field is missing: add it", null);
        }
        if (!ModelNames.isValid(name)) {
            throw new InvalidMessageException(
                    "name", "model name '" + name + "' is invalid: use " + ModelNames.rule(), null);
        }
        if (format == null) {
            throw new InvalidMessageException("format", "required field is missing: add it", null);
        }
        if (files == null || files.isEmpty()) {
            throw new InvalidMessageException("files", "a model lists at least one file", null);
        }
        Set<String> paths = new HashSet<>();
        for (int i = 0; i < files.size(); i++) {
            ModelFile f = files.get(i);
            if (f == null) {
                throw new InvalidMessageException("files[" + i + "]", "entry is null: remove it", null);
            }
            if (!paths.add(f.path())) {
                throw new InvalidMessageException(
                        "files[" + i + "].path", "file '" + f.path() + "' is listed twice: list it once", null);
            }
        }
        files = Collections.unmodifiableList(new ArrayList<>(files));
        config = freeze(config);
        if (createdAt == null) {
            throw new InvalidMessageException("created_at", "required field is missing: add it", null);
        }
        if (owner != null && !OWNER.matcher(owner).matches()) {
            throw new InvalidMessageException(
                    "owner",
                    "owner '" + owner + "' is invalid: use 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-',"
                            + " or leave the field out",
                    null);
        }
    }

    /** Whether {@code ownerTag} registered this model (false for a model without an owner). */
    public boolean isOwnedBy(String ownerTag) {
        return owner != null && owner.equals(ownerTag);
    }

    /** Total bytes of all files. */
    public long totalSize() {
        return files.stream().mapToLong(ModelFile::size).sum();
    }

    /** The file at {@code path}, or an exception listing the paths there are. */
    public ModelFile file(String path) {
        return files.stream()
                .filter(f -> f.path().equals(path))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException(
                        "model " + kind + "/" + name + " has no file '" + path + "': its files are "
                                + files.stream().map(ModelFile::path).toList()));
    }

    /** {@value #CONFIG_MAX_FRAMES} from the config, when present as an integer. */
    public OptionalInt maxFrames() {
        Object v = config.get(CONFIG_MAX_FRAMES);
        return v instanceof Integer i ? OptionalInt.of(i) : OptionalInt.empty();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> freeze(Map<String, Object> config) {
        if (config == null) {
            return Map.of();
        }
        return (Map<String, Object>) freezeValue(config);
    }

    private static Object freezeValue(Object value) {
        if (value instanceof Map<?, ?> m) {
            Map<String, Object> copy = new LinkedHashMap<>();
            m.forEach((k, v) -> copy.put(String.valueOf(k), freezeValue(v)));
            return Collections.unmodifiableMap(copy);
        }
        if (value instanceof List<?> l) {
            List<Object> copy = new ArrayList<>(l.size());
            l.forEach(v -> copy.add(freezeValue(v)));
            return Collections.unmodifiableList(copy);
        }
        return value;
    }
}
