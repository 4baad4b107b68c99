package io.animatediff.worker;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelConflictException;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.world.MiniWorldSet;
import io.animatediff.engine.world.WorldModels;
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

    /** The trained miniature-world models registered ({@link WorldModels}). */
    public record RegisteredWorld(
            ModelManifest base, ModelManifest personalized, ModelManifest motion, ModelManifest lora) {}

    /**
     * Extracts the trained miniature-world models shipped in the engine jar into {@code dir} and
     * registers them as base {@value WorldModels#BASE} and {@value WorldModels#PERSONALIZED}, motion
     * {@value WorldModels#MOTION} and LoRA {@value WorldModels#LORA}. Idempotent like
     * {@link #register}.
     *
     * @throws IllegalStateException when this build carries no trained models
     */
    public static synchronized RegisteredWorld registerWorld(ModelRegistry registry, Path dir) {
        if (!WorldModels.available()) {
            throw new IllegalStateException("this build carries no trained miniature-world models: run"
                    + " `./animatediff reproduce --ship` and rebuild, or use the seeded model '" + NAME + "'");
        }
        try {
            MiniWorldSet set = WorldModels.extract(Files.createDirectories(dir));
            Map<String, Object> motionConfig = Map.of(
                    ModelManifest.CONFIG_MAX_FRAMES,
                    motionConfig().maxFrames(),
                    ModelResolver.CONFIG_MOTION_NORM,
                    "official");
            return new RegisteredWorld(
                    replace(
                            registry,
                            ModelKind.BASE,
                            WorldModels.BASE,
                            ModelFormat.DIFFUSERS,
                            folder(set.base()),
                            Map.of()),
                    replace(
                            registry,
                            ModelKind.BASE,
                            WorldModels.PERSONALIZED,
                            ModelFormat.DIFFUSERS,
                            folder(set.personalized()),
                            Map.of()),
                    replace(
                            registry,
                            ModelKind.MOTION,
                            WorldModels.MOTION,
                            ModelFormat.MOTION_SAFETENSORS,
                            List.of(LocalModelFile.of(MOTION_FILE, set.motion())),
                            motionConfig),
                    replace(
                            registry,
                            ModelKind.LORA,
                            WorldModels.LORA,
                            ModelFormat.LORA_SAFETENSORS,
                            List.of(LocalModelFile.of("lora.safetensors", set.lora())),
                            Map.of()));
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot extract the world models to " + dir + ": " + e.getMessage() + ": pass a writable folder",
                    e);
        }
    }

    private static List<LocalModelFile> folder(Path root) throws IOException {
        List<LocalModelFile> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path f : walk.filter(Files::isRegularFile).sorted().toList()) {
                files.add(LocalModelFile.of(root.relativize(f).toString().replace('\\', '/'), f));
            }
        }
        return files;
    }

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
            List<LocalModelFile> baseFiles = folder(dir.resolve("base"));
            List<LocalModelFile> motionFiles = List.of(LocalModelFile.of(MOTION_FILE, dir.resolve(MOTION_FILE)));
            Map<String, Object> motionConfig = Map.of(
                    ModelManifest.CONFIG_MAX_FRAMES,
                    motionConfig().maxFrames(),
                    ModelResolver.CONFIG_MOTION_NORM,
                    "official");
            ModelManifest b = replace(registry, ModelKind.BASE, NAME, ModelFormat.DIFFUSERS, baseFiles, Map.of());
            ModelManifest m = replace(
                    registry, ModelKind.MOTION, NAME, ModelFormat.MOTION_SAFETENSORS, motionFiles, motionConfig);
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
            String name,
            ModelFormat format,
            List<LocalModelFile> files,
            Map<String, Object> config) {
        try {
            return registry.register(kind, name, format, files, config);
        } catch (ModelConflictException e) {
            registry.delete(kind, name);
            return registry.register(kind, name, format, files, config);
        }
    }
}
