package io.animatediff.gateway;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.animatediff.common.InvalidMessageException;
import io.animatediff.common.Json;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ModelNames;
import io.animatediff.common.registry.ModelConflictException;
import io.animatediff.common.registry.ModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ChecksumMismatchException;
import io.animatediff.common.store.ObjectNotFoundException;
import io.animatediff.common.store.PutOptions;
import io.animatediff.common.store.PutResult;
import io.animatediff.common.store.Sha256;
import java.io.InputStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Model registration over the HTTP API, delegating to {@link ModelRegistry}:
 *
 * <ul>
 *   <li>one file streamed through the gateway to S3 (hashed on the way, checked against {@code
 *       X-Sha256} when sent), then registered ({@link #upload});
 *   <li>several files uploaded by the client with presigned PUT URLs ({@link #planUpload}), then
 *       registered once their sizes and hashes check out ({@link #finalizeUpload});
 *   <li>list, get, delete (a model registered by another API key: 403).
 * </ul>
 *
 * Limits ({@link Limits}): a file over {@code maxFileBytes} is 413 and leaves no object behind; a
 * new model beyond the key's or the fleet's model count is 409 before a byte is stored. A model
 * uploaded here records its uploader's owner tag ({@link JobOwners#tag}) in its manifest.
 */
public final class ModelService {
    private final ModelRegistry registry;
    private final Runnable onChange;
    private final Duration uploadUrlExpiry;
    private final Limits limits;
    private final Clock clock;

    /**
     * Upload limits ({@code animatediff.models.*}).
     *
     * @param maxModels most models registered in the fleet (all kinds, all owners)
     * @param maxModelsPerKey most models one API key may have registered
     * @param maxFileBytes largest model file in bytes
     */
    public record Limits(int maxModels, int maxModelsPerKey, long maxFileBytes) {
        public Limits {
            if (maxModels < 1) {
                throw new IllegalArgumentException(
                        "animatediff.models.max-models is " + maxModels + ": set it to 1 or more");
            }
            if (maxModelsPerKey < 1) {
                throw new IllegalArgumentException(
                        "animatediff.models.max-models-per-key is " + maxModelsPerKey + ": set it to 1 or more");
            }
            if (maxFileBytes < 1) {
                throw new IllegalArgumentException(
                        "animatediff.models.max-file-bytes is " + maxFileBytes + ": set it to 1 or more");
            }
        }
    }

    /** {@code POST /v1/models/{kind}/{name}/uploads} body: the files the client will PUT. */
    public record UploadPlanRequest(@JsonProperty("files") List<String> files) {}

    /** Presigned PUT URLs, one per file, and where to finalize. */
    public record UploadPlan(
            @JsonProperty("files") List<UploadTarget> files,
            @JsonProperty("expires_at") Instant expiresAt,
            @JsonProperty("finalize") String finalizeUrl) {}

    /** Where to PUT one file. */
    public record UploadTarget(
            @JsonProperty("path") String path,
            @JsonProperty("url") String url) {}

    /** {@code POST /v1/models/{kind}/{name}/finalize} body. */
    public record FinalizeRequest(
            @JsonProperty("format") String format,
            @JsonProperty("files") List<ModelFile> files,
            @JsonProperty("config") Map<String, Object> config) {}

    /** A listing. */
    public record ModelList(@JsonProperty("models") List<ModelManifest> models) {}

    /** @param onChange called after a model was registered or deleted (drops catalog caches) */
    public ModelService(
            ModelRegistry registry, Runnable onChange, Duration uploadUrlExpiry, Limits limits, Clock clock) {
        this.limits = Objects.requireNonNull(limits, "limits");
        this.registry = Objects.requireNonNull(registry, "registry");
        this.onChange = Objects.requireNonNull(onChange, "onChange");
        this.uploadUrlExpiry = Objects.requireNonNull(uploadUrlExpiry, "uploadUrlExpiry");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Streams one file to {@code models/<kind>/<name>/files/<path>} and registers the model.
     *
     * @param format model format name, or null to infer it from the kind and file name
     * @param maxFrames a motion module's frame limit, or null
     * @param expectedSha256 the {@code X-Sha256} header, or null
     * @param length the {@code Content-Length}, or -1 when absent (refused)
     * @param owner the caller's owner tag ({@link JobOwners#tag})
     * @return the manifest and whether it was newly registered
     */
    public Registered upload(
            String kind,
            String name,
            String path,
            String format,
            Integer maxFrames,
            String expectedSha256,
            long length,
            InputStream body,
            String owner) {
        // 1. check everything before reading a byte
        ModelKind k = kind(kind);
        name(name);
        if (path == null || path.isBlank()) {
            throw ProblemException.badField(
                    "path",
                    "query parameter path is required: the file's path inside the"
                            + " model, e.g. ?path=mm_sd_v15_v2.ckpt");
        }
        filePath(path);
        ModelFormat f = format == null || format.isBlank() ? inferFormat(k, path) : format(format);
        String sha = expectedSha256 == null ? null : expectedSha256.trim().toLowerCase(Locale.ROOT);
        if (sha != null && !Sha256.isHex(sha)) {
            throw ProblemException.badField(
                    "X-Sha256",
                    "'" + expectedSha256 + "' is not 64 hex digits: send the"
                            + " file's sha256 in hex, or leave the header out");
        }
        if (length < 0) {
            throw new ProblemException(
                    "length_required",
                    Problem.of(
                            411,
                            "length-required",
                            "Length required",
                            "send the file with a Content-Length header (no chunked upload); for several or very"
                                    + " large files use POST /v1/models/{kind}/{name}/uploads (presigned PUT)",
                            List.of(new Problem.FieldViolation("Content-Length", "required"))));
        }
        if (length > limits.maxFileBytes()) {
            throw tooLarge(k, name, path, length, "Content-Length");
        }
        Map<String, Object> config = maxFrames == null ? Map.of() : Map.of(ModelManifest.CONFIG_MAX_FRAMES, maxFrames);
        if (maxFrames != null && (maxFrames < 1 || maxFrames > 1024)) {
            throw ProblemException.badField("max_frames", "max_frames is " + maxFrames + ", allowed 1 to 1024");
        }
        Optional<ModelManifest> existing = registry.find(k, name);
        if (existing.isPresent()) {
            ModelManifest m = existing.get();
            boolean same = sha != null
                    && m.files().size() == 1
                    && m.files().get(0).path().equals(path)
                    && m.files().get(0).sha256().equals(sha)
                    && m.format() == f;
            if (same) {
                return new Registered(m, false);
            }
            throw taken(k, name);
        }
        checkRoom(k, name, owner);
        // 2. stream to S3, hashing on the way
        String key = ModelRegistry.fileKey(k, name, path);
        PutResult put;
        try {
            put = registry.store().put(key, body, length, PutOptions.DEFAULT.expectingSha256(sha));
        } catch (ChecksumMismatchException e) {
            throw ProblemException.unprocessable(
                    "checksum_mismatch",
                    "Checksum mismatch",
                    "the uploaded bytes of '" + path + "' have sha256 " + e.actual() + ", X-Sha256 says " + e.expected()
                            + ": nothing was registered; upload the right file or correct the header",
                    List.of(new Problem.FieldViolation("X-Sha256", "does not match the uploaded bytes")));
        }
        // 3. register: the registry re-reads the stored object and checks size and sha256
        return new Registered(
                finalizeOrMap(k, name, f, List.of(new ModelFile(path, put.sha256(), put.size())), config, owner), true);
    }

    /** A manifest and whether this call registered it. */
    public record Registered(ModelManifest manifest, boolean created) {}

    /** Presigned PUT URLs for each file of a multi-file model. */
    public UploadPlan planUpload(String kind, String name, String body, String owner) {
        ModelKind k = kind(kind);
        name(name);
        UploadPlanRequest req = read(body, UploadPlanRequest.class);
        if (req.files() == null || req.files().isEmpty()) {
            throw ProblemException.badField("files", "list the file paths to upload, e.g. [\"unet/config.json\"]");
        }
        if (registry.find(k, name).isPresent()) {
            throw taken(k, name);
        }
        checkRoom(k, name, owner);
        List<UploadTarget> targets = new ArrayList<>();
        for (int i = 0; i < req.files().size(); i++) {
            String p = req.files().get(i);
            try {
                ModelFile.checkPath(p);
            } catch (InvalidMessageException e) {
                throw ProblemException.badField("files[" + i + "]", e.problem());
            }
            targets.add(new UploadTarget(
                    p,
                    registry.store()
                            .presignedPut(ModelRegistry.fileKey(k, name, p), uploadUrlExpiry)
                            .toString()));
        }
        return new UploadPlan(
                targets, clock.instant().plus(uploadUrlExpiry), "/v1/models/" + k.json() + "/" + name + "/finalize");
    }

    /**
     * Registers files already uploaded with presigned PUTs. A file over {@code maxFileBytes} (as
     * stored or as declared) is 413 and a size or sha256 mismatch 422, both deleting every upload
     * of the model so nothing is left behind.
     */
    public ModelManifest finalizeUpload(String kind, String name, String body, String owner) {
        ModelKind k = kind(kind);
        name(name);
        FinalizeRequest req = read(body, FinalizeRequest.class);
        if (req.format() == null) {
            throw ProblemException.badField("format", "format is required: one of " + formatNames());
        }
        ModelFormat f = format(req.format());
        if (req.files() == null || req.files().isEmpty()) {
            throw ProblemException.badField("files", "list every uploaded file with path, sha256 and size");
        }
        if (registry.find(k, name).isEmpty()) {
            checkRoom(k, name, owner);
            checkUploadedSizes(k, name, req.files());
        }
        return finalizeOrMap(k, name, f, req.files(), req.config(), owner);
    }

    private ModelManifest finalizeOrMap(
            ModelKind k, String name, ModelFormat f, List<ModelFile> files, Map<String, Object> config, String owner) {
        try {
            ModelManifest m = registry.finalizeUpload(k, name, f, files, config, owner);
            onChange.run();
            return m;
        } catch (ObjectNotFoundException e) {
            throw ProblemException.unprocessable("upload_missing", "Upload missing", e.getMessage(), List.of());
        } catch (ChecksumMismatchException e) {
            throw ProblemException.unprocessable("checksum_mismatch", "Checksum mismatch", e.getMessage(), List.of());
        } catch (ModelConflictException e) {
            throw ProblemException.conflict("model_exists", e.getMessage());
        } catch (InvalidMessageException e) {
            throw ProblemException.badField(e.field(), e.problem());
        }
    }

    /** Every registered model, of one kind or all. */
    public ModelList list(String kind) {
        List<ModelManifest> out = new ArrayList<>();
        if (kind == null || kind.isBlank()) {
            for (ModelKind k : ModelKind.values()) {
                out.addAll(registry.list(k));
            }
        } else {
            out.addAll(registry.list(kind(kind)));
        }
        return new ModelList(out);
    }

    public ModelManifest get(String kind, String name) {
        ModelKind k = kind(kind);
        name(name);
        return registry.find(k, name).orElseThrow(() -> notFound(k, name));
    }

    /**
     * Unregisters a model; 404 when it was not registered, 403 when another API key registered it
     * (a model without an owner may be deleted by any key).
     */
    public void delete(String kind, String name, String owner) {
        ModelKind k = kind(kind);
        name(name);
        ModelManifest m = registry.find(k, name).orElseThrow(() -> notFound(k, name));
        if (m.owner() != null && !m.isOwnedBy(owner)) {
            throw new ProblemException(
                    "forbidden",
                    Problem.of(
                            403,
                            "forbidden",
                            "Forbidden",
                            "the " + k + " model '" + name + "' was registered by another API key: only that key"
                                    + " may delete it",
                            List.of(new Problem.FieldViolation("name", "registered by another API key"))));
        }
        if (!registry.delete(k, name)) {
            throw notFound(k, name);
        }
        onChange.run();
    }

    // ---------------------------------------------------------------- checks

    /**
     * 409 when the caller already has {@code maxModelsPerKey} models or the fleet {@code maxModels}
     * (checked before a new model's first byte is stored; concurrent uploads may pass a limit by the
     * number in flight).
     */
    private void checkRoom(ModelKind k, String name, String owner) {
        int count = 0;
        int mine = 0;
        for (ModelKind kind : ModelKind.values()) {
            for (ModelManifest m : registry.list(kind)) {
                count++;
                if (m.isOwnedBy(owner)) {
                    mine++;
                }
            }
        }
        if (mine >= limits.maxModelsPerKey()) {
            throw new ProblemException(
                    "model_limit_per_key",
                    Problem.of(
                            409,
                            "model-limit-per-key",
                            "Model limit of this API key reached",
                            "this API key already has " + mine + " registered models, the limit per key is "
                                    + limits.maxModelsPerKey() + " (animatediff.models.max-models-per-key): the " + k
                                    + " model '" + name + "' was not stored; delete one of your models no longer"
                                    + " used (DELETE /v1/models/{kind}/{name}) or ask the operator to raise the"
                                    + " limit",
                            List.of(new Problem.FieldViolation(
                                    "name",
                                    mine + " models registered by this key, limit " + limits.maxModelsPerKey()))));
        }
        if (count >= limits.maxModels()) {
            throw new ProblemException(
                    "model_limit",
                    Problem.of(
                            409,
                            "model-limit",
                            "Model limit reached",
                            "the fleet already has " + count + " registered models, the limit is "
                                    + limits.maxModels() + " (animatediff.models.max-models): the " + k + " model '"
                                    + name + "' was not stored; delete models no longer used (DELETE"
                                    + " /v1/models/{kind}/{name}) or ask the operator to raise the limit",
                            List.of(new Problem.FieldViolation(
                                    "name", count + " models registered, limit " + limits.maxModels()))));
        }
    }

    /**
     * 413 when a presigned upload (as stored, or as declared) is over {@code maxFileBytes}: every
     * upload of the model is deleted first. A file not uploaded yet is left for the registry to
     * report.
     */
    private void checkUploadedSizes(ModelKind k, String name, List<ModelFile> files) {
        for (int i = 0; i < files.size(); i++) {
            ModelFile f = files.get(i);
            if (f == null) {
                continue; // the manifest refuses it with its index
            }
            long stored;
            try {
                stored = registry.store()
                        .stat(ModelRegistry.fileKey(k, name, f.path()))
                        .size();
            } catch (ObjectNotFoundException e) {
                stored = -1;
            }
            long size = Math.max(stored, f.size());
            if (size > limits.maxFileBytes()) {
                registry.store().deletePrefix(ModelRegistry.modelPrefix(k, name));
                throw tooLarge(k, name, f.path(), size, "files[" + i + "].size");
            }
        }
    }

    private ProblemException tooLarge(ModelKind k, String name, String path, long size, String field) {
        return new ProblemException(
                "file_too_large",
                Problem.of(
                        413,
                        "file-too-large",
                        "Model file too large",
                        "file '" + path + "' of the " + k + " model '" + name + "' has " + size
                                + " bytes, the limit is " + limits.maxFileBytes()
                                + " bytes per file (animatediff.models.max-file-bytes): nothing was stored or"
                                + " registered; upload a smaller file (e.g. pruned or fp16 weights) or ask the"
                                + " operator to raise the limit",
                        List.of(new Problem.FieldViolation(field, size + " bytes, limit " + limits.maxFileBytes()))));
    }

    static ModelFormat inferFormat(ModelKind kind, String path) {
        String lower = path.toLowerCase(Locale.ROOT);
        return switch (kind) {
            case BASE -> ModelFormat.LDM_SAFETENSORS;
            case MOTION ->
                lower.endsWith(".ckpt") || lower.endsWith(".pth") || lower.endsWith(".pt")
                        ? ModelFormat.CKPT
                        : ModelFormat.MOTION_SAFETENSORS;
            case LORA, MOTION_LORA -> ModelFormat.LORA_SAFETENSORS;
        };
    }

    private static ModelKind kind(String kind) {
        return ModelKind.find(kind)
                .orElseThrow(() -> ProblemException.badField(
                        "kind", "model kind '" + kind + "' is unknown: use one of base, motion, lora, motion-lora"));
    }

    private static void name(String name) {
        if (!ModelNames.isValid(name)) {
            throw ProblemException.badField("name", "model name '" + name + "' is invalid: use " + ModelNames.rule());
        }
    }

    private static void filePath(String path) {
        try {
            ModelFile.checkPath(path);
        } catch (InvalidMessageException e) {
            throw ProblemException.badField("path", e.problem());
        }
    }

    private static ModelFormat format(String format) {
        return ModelFormat.find(format)
                .orElseThrow(() -> ProblemException.badField(
                        "format", "model format '" + format + "' is unknown: use one of " + formatNames()));
    }

    private static List<String> formatNames() {
        return Arrays.stream(ModelFormat.values()).map(ModelFormat::json).toList();
    }

    private static <T> T read(String body, Class<T> type) {
        if (body == null || body.isBlank()) {
            throw ProblemException.badField("", "the request body is empty: send a JSON object");
        }
        try {
            return Json.readStrict(body, type);
        } catch (InvalidMessageException e) {
            throw ProblemException.badField(e.field(), e.problem());
        }
    }

    private static ProblemException taken(ModelKind k, String name) {
        return ProblemException.conflict(
                "model_exists",
                "a " + k + " model named '" + name + "' is already registered with other files: delete it first"
                        + " (DELETE /v1/models/" + k.json() + "/" + name + ") or use another name");
    }

    private static ProblemException notFound(ModelKind k, String name) {
        return ProblemException.notFound("no " + k + " model named '" + name + "' is registered: list them with"
                + " GET /v1/models?kind=" + k.json());
    }
}
