package io.animatediff.worker;

import ai.djl.engine.EngineException;
import io.animatediff.common.protocol.FailureCode;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.LoraSpec;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ModelNames;
import io.animatediff.common.registry.ModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ChecksumMismatchException;
import io.animatediff.common.store.ObjectNotFoundException;
import io.animatediff.common.store.ObjectStoreException;
import io.animatediff.common.validation.ModelCatalog;
import io.animatediff.engine.config.MotionModuleConfig.MotionNorm;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.nn.Bf16Copies;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Param;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a request's model names into a loaded model: manifests from the {@link ModelRegistry},
 * files through the {@link ModelDiskCache}, the base model with its motion module from the {@link
 * ModelMemoryCache} (keyed by both content ids and the motion norm) or loaded with {@link
 * ModelLoader}. LoRAs are never part of a cached model: the job merges them and restores the
 * weights afterwards.
 *
 * <p>Motion modules may carry {@value #CONFIG_MOTION_NORM} ({@code official} or {@code diffusers})
 * in their manifest config; absent means {@code official}.
 */
public final class ModelResolver implements AutoCloseable {
    /** Manifest config key of a motion module's GroupNorm mode. */
    public static final String CONFIG_MOTION_NORM = "motion_norm";

    private static final Logger LOG = LoggerFactory.getLogger(ModelResolver.class);
    private static final Set<String> WEIGHT_SUFFIXES = Set.of(".safetensors", ".ckpt", ".pt", ".pth", ".bin");

    /** Memory-cache key: what the loaded weights are made of. */
    public record Key(String baseId, String motionId, MotionNorm motionNorm) {}

    /** The manifests a request names, as far as they are registered. */
    public static final class Lookup {
        private final Map<String, ModelManifest> found = new HashMap<>();

        void put(ModelKind kind, String name, ModelManifest m) {
            found.put(kind.json() + "/" + name, m);
        }

        public Optional<ModelManifest> find(ModelKind kind, String name) {
            return Optional.ofNullable(found.get(kind.json() + "/" + name));
        }

        /** The manifest of a model the validator already confirmed. */
        public ModelManifest get(ModelKind kind, String name) {
            return find(kind, name)
                    .orElseThrow(() -> new IllegalStateException(kind + " '" + name + "' was not looked up"));
        }

        /** Validly named models of the request that are not registered, as {@code kind/name}. */
        public List<String> missing(GenerationRequest r) {
            List<String> out = new ArrayList<>();
            missing(out, ModelKind.BASE, r.baseModel());
            missing(out, ModelKind.MOTION, r.motionModule());
            r.loras().forEach(l -> missing(out, ModelKind.LORA, l.name()));
            r.motionLoras().forEach(l -> missing(out, ModelKind.MOTION_LORA, l.name()));
            return out;
        }

        private void missing(List<String> out, ModelKind kind, String name) {
            if (ModelNames.isValid(name) && !found.containsKey(kind.json() + "/" + name)) {
                out.add(kind.json() + "/" + name);
            }
        }

        /** The catalog the shared validator checks names against. */
        public ModelCatalog catalog() {
            return (kind, name) -> found.containsKey(kind.json() + "/" + name);
        }
    }

    /** A loaded base + motion model, and whether it came from the memory cache. */
    public record Loaded(Key key, AnimateDiffModel model, boolean cacheHit) {}

    private final ModelRegistry registry;
    private final ModelDiskCache disk;
    private final ModelMemoryCache<Key, AnimateDiffModel> memory;

    public ModelResolver(ModelRegistry registry, ModelDiskCache disk, ModelMemoryCache<Key, AnimateDiffModel> memory) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.disk = Objects.requireNonNull(disk, "disk");
        this.memory = Objects.requireNonNull(memory, "memory");
    }

    public ModelMemoryCache<Key, AnimateDiffModel> memory() {
        return memory;
    }

    /** Reads the manifest of every validly named model the request names (one GET each). */
    public Lookup lookup(GenerationRequest r) {
        Lookup out = new Lookup();
        find(out, ModelKind.BASE, r.baseModel());
        find(out, ModelKind.MOTION, r.motionModule());
        for (LoraSpec l : r.loras()) {
            find(out, ModelKind.LORA, l.name());
        }
        for (LoraSpec l : r.motionLoras()) {
            find(out, ModelKind.MOTION_LORA, l.name());
        }
        return out;
    }

    private void find(Lookup out, ModelKind kind, String name) {
        if (!ModelNames.isValid(name)) {
            return; // the validator names the field
        }
        try {
            registry.find(kind, name).ifPresent(m -> out.put(kind, name, m));
        } catch (ObjectStoreException e) {
            throw new JobFailedException(
                    FailureCode.STORAGE_UNAVAILABLE,
                    "cannot read the manifest of " + kind + " model '" + name + "': " + e.getMessage(),
                    e);
        } catch (IllegalStateException e) {
            throw new JobFailedException(FailureCode.MODEL_CORRUPT, e.getMessage(), e);
        }
    }

    /**
     * The base model with its motion module, from the memory cache or loaded. Synchronized: the jobs
     * of a batch acquire on their own threads and must share one loaded instance.
     */
    public synchronized Loaded acquire(ModelManifest base, ModelManifest motion) {
        MotionNorm norm = motionNorm(motion);
        Key key = new Key(
                base.name() + "-" + ModelDiskCache.contentId(base),
                motion.name() + "-" + ModelDiskCache.contentId(motion),
                norm);
        AnimateDiffModel cached = memory.get(key);
        if (cached != null) {
            return new Loaded(key, cached, true);
        }
        Path basePath = weights(base, fetch(base));
        Path motionPath = weights(motion, fetch(motion));
        memory.makeRoom(base.totalSize() + motion.totalSize());
        long t0 = System.nanoTime();
        AnimateDiffModel model;
        try {
            model = ModelLoader.load(basePath, motionPath, norm, List.of());
        } catch (IOException | RuntimeException e) {
            throw loadFailure(
                    "base model '" + base.name() + "' with motion module '" + motion.name() + "'",
                    e,
                    "register the models again from valid files");
        } catch (OutOfMemoryError e) {
            throw new JobFailedException(
                    FailureCode.OUT_OF_MEMORY,
                    "loading base model '" + base.name() + "' with motion module '" + motion.name()
                            + "' ran out of memory: lower " + WorkerConfig.ENV_MODEL_CACHE_BYTES
                            + " or give the worker more memory",
                    e);
        }
        long bytes = bytesOf(model);
        memory.put(key, model, bytes);
        LOG.info(
                "loaded {} in {} ms ({} MiB): {}",
                key,
                (System.nanoTime() - t0) / 1_000_000,
                bytes >> 20,
                model.description());
        return new Loaded(key, model, false);
    }

    /** The local weights file of a LoRA or MotionLoRA. */
    public Path loraFile(ModelManifest lora) {
        return weights(lora, fetch(lora));
    }

    /** Downloads (or finds) the model's files. */
    private Path fetch(ModelManifest m) {
        try {
            return disk.materialize(m);
        } catch (ChecksumMismatchException e) {
            throw new JobFailedException(FailureCode.MODEL_CORRUPT, e.getMessage(), e);
        } catch (ObjectNotFoundException e) {
            throw new JobFailedException(
                    FailureCode.MODEL_CORRUPT,
                    m.kind() + " model '" + m.name() + "' lists a file the store does not have (" + e.getMessage()
                            + "): register the model again",
                    e);
        } catch (ObjectStoreException e) {
            throw new JobFailedException(
                    FailureCode.STORAGE_UNAVAILABLE,
                    "cannot download " + m.kind() + " model '" + m.name() + "': " + e.getMessage(),
                    e);
        } catch (UncheckedIOException e) {
            throw new JobFailedException(FailureCode.INTERNAL, e.getMessage(), e);
        }
    }

    /** The path the engine loads: the folder for diffusers layouts, else the one weights file. */
    static Path weights(ModelManifest m, Path dir) {
        ModelFormat f = m.format();
        boolean folder = switch (m.kind()) {
            case BASE -> f == ModelFormat.DIFFUSERS;
            case MOTION -> f == ModelFormat.DIFFUSERS;
            case LORA, MOTION_LORA -> false;
        };
        boolean usable = switch (m.kind()) {
            case BASE -> folder || f == ModelFormat.LDM_SAFETENSORS || f == ModelFormat.CKPT;
            case MOTION -> folder || f == ModelFormat.MOTION_SAFETENSORS || f == ModelFormat.CKPT;
            case LORA, MOTION_LORA -> f == ModelFormat.LORA_SAFETENSORS;
        };
        if (!usable) {
            throw new JobFailedException(
                    FailureCode.MODEL_CORRUPT,
                    m.kind() + " model '" + m.name() + "' is registered with format " + f + ", which a " + m.kind()
                            + " cannot have: register it again with the right format",
                    null);
        }
        if (folder) {
            return dir;
        }
        List<ModelFile> candidates = m.files().size() == 1
                ? m.files()
                : m.files().stream()
                        .filter(x -> WEIGHT_SUFFIXES.stream()
                                .anyMatch(s -> x.path().toLowerCase(Locale.ROOT).endsWith(s)))
                        .toList();
        if (candidates.size() != 1) {
            throw new JobFailedException(
                    FailureCode.MODEL_CORRUPT,
                    m.kind() + " model '" + m.name() + "' (format " + f + ") must hold exactly one weights file, it"
                            + " lists "
                            + m.files().stream().map(ModelFile::path).toList()
                            + ": register it again with one file",
                    null);
        }
        return dir.resolve(candidates.get(0).path());
    }

    static MotionNorm motionNorm(ModelManifest motion) {
        Object v = motion.config().get(CONFIG_MOTION_NORM);
        if (v == null) {
            return MotionNorm.OFFICIAL;
        }
        try {
            return MotionNorm.parse(String.valueOf(v));
        } catch (IllegalArgumentException e) {
            throw new JobFailedException(
                    FailureCode.MODEL_CORRUPT,
                    "motion module '" + motion.name() + "' has config " + CONFIG_MOTION_NORM + " = '" + v
                            + "': use 'official' or 'diffusers' (register it again)",
                    e);
        }
    }

    /** Classifies a failure to read weights: corrupt files, memory, or an engine fault. */
    static JobFailedException loadFailure(String what, Throwable e, String fix) {
        if (isOutOfMemory(e)) {
            return new JobFailedException(FailureCode.OUT_OF_MEMORY, what + " ran out of memory: " + e.getMessage(), e);
        }
        if (e instanceof EngineException) {
            return new JobFailedException(FailureCode.INTERNAL, what + ": engine error " + e.getMessage(), e);
        }
        return new JobFailedException(
                FailureCode.MODEL_CORRUPT, what + " cannot be loaded: " + e.getMessage() + ": " + fix, e);
    }

    /** libtorch reports allocation failures as engine exceptions with these words. */
    static boolean isOutOfMemory(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof OutOfMemoryError) {
                return true;
            }
            String m = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (m.contains("out of memory") || m.contains("can't allocate memory") || m.contains("bad_alloc")) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    /**
     * Bytes of every weight and buffer of the model, and of the bfloat16 copies of its convolution
     * and linear weights when bfloat16 inference is on ({@link Bf16Copies}: made at first use, held
     * as long as the model, so reserved from the start).
     */
    static long bytesOf(AnimateDiffModel model) {
        long copies = Bf16Copies.bytesIfEnabled(model.unet())
                + Bf16Copies.bytesIfEnabled(model.vae())
                + Bf16Copies.bytesIfEnabled(model.textEncoder());
        return bytesOf(model.unet()) + bytesOf(model.vae()) + bytesOf(model.textEncoder()) + copies;
    }

    private static long bytesOf(Module module) {
        long sum = 0;
        for (Param p : module.namedTensors().values()) {
            if (p.isSet()) {
                sum += p.get().size() * p.get().getDataType().getNumOfBytes();
            }
        }
        return sum;
    }

    @Override
    public void close() {
        memory.close();
    }
}
