package io.animatediff.worker;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelConflictException;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.TinyModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The built-in tiny model (the engine's {@link TinyModels}, seeded, in real formats) registered as
 * base {@value #NAME} (a diffusers folder) and motion {@value #NAME} (one official-layout
 * {@code .safetensors}), so local mode and tests run the whole fleet without downloading weights.
 */
public final class BuiltinModels {
    /** The registered name of both models. */
    public static final String NAME = "builtin";
    /** The motion module's file name inside its model. */
    public static final String MOTION_FILE = "motion.safetensors";

    static final long BASE_SEED = 0;
    static final long MOTION_SEED = 100;

    private BuiltinModels() {}

    /** What was registered. */
    public record Registered(ModelManifest base, ModelManifest motion) {}

    /**
     * Writes {@code dir/base/} (diffusers folder) and {@code dir/motion.safetensors}; returns dir.
     * The bytes are the same on every call (TinyModels draws every weight from seeded generators).
     */
    public static synchronized Path write(Path dir) throws IOException {
        TinyModels.writeBaseModel(dir.resolve("base"), BASE_SEED);
        TinyModels.writeMotionModule(dir.resolve(MOTION_FILE), motionConfig(), MOTION_SEED, true);
        return dir;
    }

    /** The built-in motion module's configuration (32 positions, no mid block). */
    public static MotionModuleConfig motionConfig() {
        return MotionModuleConfig.tiny(false);
    }

    /**
     * Writes the tiny model under {@code tmpDir} and registers it. Idempotent: registering the same
     * bytes again returns the existing manifests; a {@value #NAME} model registered with other bytes
     * (an older engine's) is replaced.
     */
    public static Registered register(ModelRegistry registry, Path tmpDir) {
        try {
            Path dir = write(Files.createDirectories(tmpDir));
            List<LocalModelFile> baseFiles = new ArrayList<>();
            Path base = dir.resolve("base");
            try (Stream<Path> walk = Files.walk(base)) {
                for (Path f : walk.filter(Files::isRegularFile).sorted().toList()) {
                    String rel = base.relativize(f).toString().replace('\\', '/');
                    baseFiles.add(LocalModelFile.of(rel, f));
                }
            }
            List<LocalModelFile> motionFiles = List.of(LocalModelFile.of(MOTION_FILE, dir.resolve(MOTION_FILE)));
            Map<String, Object> motionConfig = Map.of(
                    ModelManifest.CONFIG_MAX_FRAMES,
                    motionConfig().maxFrames(),
                    ModelResolver.CONFIG_MOTION_NORM,
                    "official");
            ModelManifest b = replace(registry, ModelKind.BASE, ModelFormat.DIFFUSERS, baseFiles, Map.of());
            ModelManifest m =
                    replace(registry, ModelKind.MOTION, ModelFormat.MOTION_SAFETENSORS, motionFiles, motionConfig);
            return new Registered(b, m);
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot write the built-in model to " + tmpDir + ": " + e.getMessage() + ": pass a writable folder",
                    e);
        }
    }

    private static ModelManifest replace(
            ModelRegistry registry,
            ModelKind kind,
            ModelFormat format,
            List<LocalModelFile> files,
            Map<String, Object> config) {
        try {
            return registry.register(kind, NAME, format, files, config);
        } catch (ModelConflictException e) {
            registry.delete(kind, NAME);
            return registry.register(kind, NAME, format, files, config);
        }
    }
}
