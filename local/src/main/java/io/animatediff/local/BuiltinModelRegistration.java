package io.animatediff.local;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.LocalModelFile;
import io.animatediff.common.registry.ModelConflictException;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Registers the built-in tiny model (the engine's {@link TinyModels}, seeded) as base {@value #NAME}
 * (a diffusers folder, manifest paths keeping the folder structure) and motion {@value #NAME} (one
 * official-layout {@code .safetensors}). Same seeds and layout as the engine's {@code sample}
 * command, so both produce the same model. Idempotent; a {@value #NAME} registered with other
 * bytes is replaced.
 */
public final class BuiltinModelRegistration {
    /** The registered name of both models. */
    public static final String NAME = "builtin";

    static final long BASE_SEED = 0;
    static final long MOTION_SEED = 100;
    static final String MOTION_FILE = "motion.safetensors";
    /** Motion-module config key read by the worker ({@code ModelResolver.CONFIG_MOTION_NORM}). */
    static final String CONFIG_MOTION_NORM = "motion_norm";

    private BuiltinModelRegistration() {}

    /**
     * Writes the model under {@code dir} (afresh, so it always matches this engine; the seeds make
     * the bytes identical run after run) and registers it.
     */
    public static void register(ModelRegistry registry, Path dir) throws IOException {
        Path base = dir.resolve("base");
        Path motion = dir.resolve(MOTION_FILE);
        MotionModuleConfig motionConfig = MotionModuleConfig.tiny(false);
        LocalLayout.deleteTree(dir);
        Files.createDirectories(dir);
        TinyModels.writeBaseModel(base, BASE_SEED);
        TinyModels.writeMotionModule(motion, motionConfig, MOTION_SEED, true);
        List<LocalModelFile> baseFiles = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(base)) {
            for (Path f : walk.filter(Files::isRegularFile).sorted().toList()) {
                baseFiles.add(LocalModelFile.of(base.relativize(f).toString().replace('\\', '/'), f));
            }
        }
        replace(registry, ModelKind.BASE, ModelFormat.DIFFUSERS, baseFiles, Map.of());
        replace(
                registry,
                ModelKind.MOTION,
                ModelFormat.MOTION_SAFETENSORS,
                List.of(LocalModelFile.of(MOTION_FILE, motion)),
                Map.of(ModelManifest.CONFIG_MAX_FRAMES, motionConfig.maxFrames(), CONFIG_MOTION_NORM, "official"));
    }

    private static void replace(
            ModelRegistry registry,
            ModelKind kind,
            ModelFormat format,
            List<LocalModelFile> files,
            Map<String, Object> config) {
        try {
            registry.register(kind, NAME, format, files, config);
        } catch (ModelConflictException e) {
            registry.delete(kind, NAME);
            registry.register(kind, NAME, format, files, config);
        }
    }
}
