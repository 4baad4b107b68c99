package io.animatediff.common.registry;

import io.animatediff.common.InvalidMessageException;
import io.animatediff.common.Json;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ModelNames;
import io.animatediff.common.protocol.Schema;
import io.animatediff.common.store.ChecksumMismatchException;
import io.animatediff.common.store.ObjectInfo;
import io.animatediff.common.store.ObjectNotFoundException;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.ObjectSummary;
import io.animatediff.common.store.PutOptions;
import io.animatediff.common.store.Sha256;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Registered models in the object store:
 *
 * <pre>
 * models/&lt;kind&gt;/&lt;name&gt;/manifest.json        the {@link ModelManifest}, written last
 * models/&lt;kind&gt;/&lt;name&gt;/files/&lt;path&gt;         each file, sha256-verified
 * </pre>
 *
 * Registering is idempotent: registering the same files again (a redelivered training job) returns
 * the existing manifest; other files under a taken name are a {@link ModelConflictException}.
 */
public final class ModelRegistry {
    /** Root of the registry in the bucket. */
    public static final String ROOT = "models/";

    private static final String MANIFEST = "manifest.json";

    private final ObjectStore store;
    private final Clock clock;

    public ModelRegistry(ObjectStore store) {
        this(store, Clock.systemUTC());
    }

    public ModelRegistry(ObjectStore store, Clock clock) {
        this.store = Objects.requireNonNull(store, "store");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public ObjectStore store() {
        return store;
    }

    /** {@code models/<kind>/<name>/}. */
    public static String modelPrefix(ModelKind kind, String name) {
        checkName(name);
        return ROOT + kind.json() + "/" + name + "/";
    }

    /** {@code models/<kind>/<name>/manifest.json}. */
    public static String manifestKey(ModelKind kind, String name) {
        return modelPrefix(kind, name) + MANIFEST;
    }

    /** {@code models/<kind>/<name>/files/<path>}. */
    public static String fileKey(ModelKind kind, String name, String path) {
        ModelFile.checkPath(path);
        return modelPrefix(kind, name) + "files/" + path;
    }

    /**
     * Uploads local files and then the manifest. Every file is hashed (and checked against its
     * expected sha256) before anything is uploaded, each upload is read back and verified, and the
     * manifest goes last.
     *
     * @throws ChecksumMismatchException a file does not match its expected sha256 (nothing uploaded)
     * @throws ModelConflictException the name is taken by other files
     */
    public ModelManifest register(
            ModelKind kind, String name, ModelFormat format, List<LocalModelFile> files, Map<String, Object> config) {
        return register(kind, name, format, files, config, null);
    }

    /**
     * As {@link #register(ModelKind, String, ModelFormat, List, Map)}, recording {@code owner} (an API
     * key's owner tag, or null) in the manifest ({@link ModelManifest#owner()}).
     */
    public ModelManifest register(
            ModelKind kind,
            String name,
            ModelFormat format,
            List<LocalModelFile> files,
            Map<String, Object> config,
            String owner) {
        checkName(name);
        if (files.isEmpty()) {
            throw new IllegalArgumentException("model " + kind + "/" + name + " has no files: pass at least one");
        }
        // 1. hash everything first: a bad file uploads nothing
        List<ModelFile> described = new ArrayList<>();
        for (LocalModelFile f : files) {
            String sha;
            long size;
            try {
                size = Files.size(f.source());
                sha = Sha256.hex(f.source());
            } catch (IOException e) {
                throw new UncheckedIOException(
                        "cannot read " + f.source() + " (file '" + f.path() + "' of model " + kind + "/" + name + "): "
                                + e.getMessage(),
                        e);
            }
            if (f.expectedSha256() != null && !f.expectedSha256().equals(sha)) {
                throw new ChecksumMismatchException(
                        "file '" + f.path() + "' of model " + kind + "/" + name + " (" + f.source() + ") has sha256 "
                                + sha + ", expected " + f.expectedSha256()
                                + ": nothing was registered; fetch the file again or correct the expected hash",
                        store.bucket(),
                        fileKey(kind, name, f.path()),
                        store.config().endpoint(),
                        f.expectedSha256(),
                        sha);
            }
            described.add(new ModelFile(f.path(), sha, size));
        }
        ModelManifest manifest = newManifest(kind, name, format, described, config, owner);
        Optional<ModelManifest> existing = find(kind, name);
        if (existing.isPresent()) {
            return sameOrConflict(existing.get(), manifest);
        }
        // 2. upload and verify each file
        for (int i = 0; i < files.size(); i++) {
            LocalModelFile f = files.get(i);
            store.put(
                    fileKey(kind, name, f.path()),
                    f.source(),
                    PutOptions.DEFAULT
                            .expectingSha256(described.get(i).sha256())
                            .verified());
        }
        // 3. the manifest last: its presence means the model is complete
        writeManifest(manifest);
        return manifest;
    }

    /** {@link #finalizeUpload(ModelKind, String, ModelFormat, List, Map, String)} without an owner. */
    public ModelManifest finalizeUpload(
            ModelKind kind, String name, ModelFormat format, List<ModelFile> declared, Map<String, Object> config) {
        return finalizeUpload(kind, name, format, declared, config, null);
    }

    /**
     * Registers files already uploaded to their {@link #fileKey}s (e.g. by presigned PUT): checks
     * each exists with the declared size and hashes its stored bytes. A mismatch deletes every
     * object under the model's prefix (the bad upload and the other files uploaded with it), so a
     * refused registration leaves nothing behind. Then writes the manifest.
     *
     * @param owner recorded in the manifest ({@link ModelManifest#owner()}), or null
     * @throws ObjectNotFoundException a declared file was not uploaded (the other uploads are kept)
     * @throws ChecksumMismatchException a stored file's size or sha256 differs from the declaration
     */
    public ModelManifest finalizeUpload(
            ModelKind kind,
            String name,
            ModelFormat format,
            List<ModelFile> declared,
            Map<String, Object> config,
            String owner) {
        ModelManifest manifest = newManifest(kind, name, format, declared, config, owner);
        Optional<ModelManifest> existing = find(kind, name);
        if (existing.isPresent()) {
            return sameOrConflict(existing.get(), manifest);
        }
        for (ModelFile f : declared) {
            String key = fileKey(kind, name, f.path());
            ObjectInfo info;
            try {
                info = store.stat(key);
            } catch (ObjectNotFoundException e) {
                throw new ObjectNotFoundException(
                        "file '" + f.path() + "' of model " + kind + "/" + name + " was not uploaded to s3://"
                                + store.bucket() + "/" + key + ": upload it (presigned PUT) before finalizing",
                        store.bucket(),
                        key,
                        store.config().endpoint(),
                        e);
            }
            String actual = info.size() == f.size() ? store.computeSha256(key) : null;
            if (!f.sha256().equals(actual)) {
                store.deletePrefix(modelPrefix(kind, name));
                String found = actual == null ? info.size() + " bytes" : "sha256 " + actual;
                throw new ChecksumMismatchException(
                        "file '" + f.path() + "' of model " + kind + "/" + name + " was declared with " + f.size()
                                + " bytes and sha256 " + f.sha256() + ", the upload has " + found
                                + ": the uploads of this model were deleted and nothing was registered; upload the"
                                + " right files again",
                        store.bucket(),
                        key,
                        store.config().endpoint(),
                        f.sha256(),
                        actual);
            }
        }
        writeManifest(manifest);
        return manifest;
    }

    /** The manifest, if the model is registered. */
    public Optional<ModelManifest> find(ModelKind kind, String name) {
        String key = manifestKey(kind, name);
        byte[] json;
        try {
            json = store.getBytes(key);
        } catch (ObjectNotFoundException e) {
            return Optional.empty();
        }
        return Optional.of(parse(key, json, kind, name));
    }

    /** The manifest; {@link ModelNotFoundException} naming where it looked when absent. */
    public ModelManifest get(ModelKind kind, String name) {
        return find(kind, name)
                .orElseThrow(() -> new ModelNotFoundException(
                        kind,
                        name,
                        "no " + kind + " model named '" + name + "' is registered (no s3://" + store.bucket() + "/"
                                + manifestKey(kind, name) + "): register it first"));
    }

    /** Whether the model is registered (one HEAD request). */
    public boolean exists(ModelKind kind, String name) {
        return ModelNames.isValid(name) && store.exists(manifestKey(kind, name));
    }

    /** Every registered model of a kind, by name. */
    public List<ModelManifest> list(ModelKind kind) {
        String prefix = ROOT + kind.json() + "/";
        List<ModelManifest> out = new ArrayList<>();
        for (ObjectSummary o : store.list(prefix)) {
            String rest = o.key().substring(prefix.length());
            int slash = rest.indexOf('/');
            if (slash > 0 && rest.substring(slash + 1).equals(MANIFEST)) {
                String name = rest.substring(0, slash);
                if (ModelNames.isValid(name)) {
                    out.add(parse(o.key(), store.getBytes(o.key()), kind, name));
                }
            }
        }
        return out;
    }

    /**
     * Unregisters a model: the manifest first (so workers stop resolving it), then its files.
     * Returns whether it was registered.
     */
    public boolean delete(ModelKind kind, String name) {
        boolean existed = store.exists(manifestKey(kind, name));
        store.delete(manifestKey(kind, name));
        store.deletePrefix(modelPrefix(kind, name));
        return existed;
    }

    /** Downloads one file of a model to {@code target}, verifying its sha256. Returns target. */
    public Path download(ModelManifest manifest, ModelFile file, Path target) {
        store.download(fileKey(manifest.kind(), manifest.name(), file.path()), target, file.sha256());
        return target;
    }

    private ModelManifest newManifest(
            ModelKind kind,
            String name,
            ModelFormat format,
            List<ModelFile> files,
            Map<String, Object> config,
            String owner) {
        return new ModelManifest(
                Schema.CURRENT,
                kind,
                name,
                format,
                files,
                config,
                clock.instant().truncatedTo(ChronoUnit.MILLIS),
                owner);
    }

    private void writeManifest(ModelManifest manifest) {
        store.put(
                manifestKey(manifest.kind(), manifest.name()),
                Json.writePretty(manifest),
                PutOptions.DEFAULT.withContentType("application/json"));
    }

    private static ModelManifest sameOrConflict(ModelManifest existing, ModelManifest wanted) {
        Set<ModelFile> have = new HashSet<>(existing.files());
        Set<ModelFile> want = new HashSet<>(wanted.files());
        if (existing.format() == wanted.format() && have.equals(want)) {
            return existing;
        }
        throw new ModelConflictException("a " + existing.kind() + " model named '" + existing.name()
                + "' is already registered with other files or format (registered " + existing.createdAt()
                + "): delete it first or register under another name");
    }

    private ModelManifest parse(String key, byte[] json, ModelKind kind, String name) {
        ModelManifest m;
        try {
            m = Json.read(json, ModelManifest.class);
        } catch (InvalidMessageException e) {
            throw new IllegalStateException(
                    "manifest s3://" + store.bucket() + "/" + key + " is invalid (" + e.getMessage()
                            + "): fix it or delete the model and register it again",
                    e);
        }
        if (m.kind() != kind || !m.name().equals(name)) {
            throw new IllegalStateException("manifest s3://" + store.bucket() + "/" + key + " describes " + m.kind()
                    + "/" + m.name() + ", not " + kind + "/" + name + ": fix it or delete the model and register it"
                    + " again");
        }
        return m;
    }

    private static void checkName(String name) {
        if (!ModelNames.isValid(name)) {
            throw new IllegalArgumentException("model name '" + name + "' is invalid: use " + ModelNames.rule());
        }
    }
}
