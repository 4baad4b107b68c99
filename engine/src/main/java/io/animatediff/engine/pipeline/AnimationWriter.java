package io.animatediff.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.GifWriter;
import io.animatediff.engine.media.Mp4Writer;
import io.animatediff.engine.media.OutputType;
import io.animatediff.engine.media.PngFrames;
import io.animatediff.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes a result as GIF, MP4, PNG frames, a frames tensor or the latents tensor. */
public final class AnimationWriter {
    private AnimationWriter() {}

    /** Returns the files written. */
    public static List<Path> write(AnimationResult result, OutputType type, double fps, Path out) throws IOException {
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Frames frames = result.frames();
        if (frames != null && fps != frames.fps()) {
            frames = new Frames(frames.count(), frames.width(), frames.height(), frames.rgb(), fps);
        }
        switch (type) {
            case GIF -> {
                GifWriter.write(require(frames, type), out, 0);
                return List.of(out);
            }
            case MP4 -> {
                Mp4Writer.write(require(frames, type), out);
                return List.of(out);
            }
            case PNG -> {
                return PngFrames.write(require(frames, type), out);
            }
            case FRAMES -> {
                Frames f = require(frames, type);
                writeTensor(out, "frames", f.toFloatCHW(), new Shape(f.count(), 3, f.height(), f.width()));
                return List.of(out);
            }
            case LATENT -> {
                writeTensor(out, "latents", result.latents(), new Shape(result.latentShape()));
                return List.of(out);
            }
            default -> throw new IllegalArgumentException("unknown output type " + type);
        }
    }

    private static Frames require(Frames frames, OutputType type) {
        if (frames == null) {
            throw new IllegalStateException(
                    "output type " + type + " needs decoded frames, but only latents were made");
        }
        return frames;
    }

    private static void writeTensor(Path out, String name, float[] data, Shape shape) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            tensors.put(name, m.create(data, shape));
            SafetensorsWriter.write(out, tensors, Map.of("format", "pt"));
        }
    }
}
