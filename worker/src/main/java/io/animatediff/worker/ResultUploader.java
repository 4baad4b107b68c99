package io.animatediff.worker;

import io.animatediff.common.protocol.OutputFormat;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.PutOptions;
import io.animatediff.common.store.PutResult;
import io.animatediff.engine.media.OutputType;
import io.animatediff.engine.pipeline.AnimationResult;
import io.animatediff.engine.pipeline.AnimationWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Encodes a result with the engine's {@link AnimationWriter} into a scratch folder and uploads it
 * under the contract's keys:
 *
 * <pre>
 * results/&lt;jobId&gt;/animation.gif             gif
 * results/&lt;jobId&gt;/animation.mp4             mp4
 * results/&lt;jobId&gt;/frames/frame_0000.png ...  png (one object per frame)
 * results/&lt;jobId&gt;/frames.safetensors        frames: tensor "frames" (F, 3, H, W) float32 in [0, 1]
 * </pre>
 *
 * The keys depend only on the job id and the formats, so a redelivered job overwrites the same
 * objects (with the same bytes: the seed is fixed in the job).
 */
public final class ResultUploader {
    private final ObjectStore store;
    private final Path scratch;

    public ResultUploader(ObjectStore store, Path scratch) {
        this.store = Objects.requireNonNull(store, "store");
        this.scratch = Objects.requireNonNull(scratch, "scratch");
    }

    /** {@code results/<jobId>/}. */
    public static String prefix(String jobId) {
        return "results/" + jobId + "/";
    }

    /** Encodes and uploads every requested format, in request order; returns what was stored. */
    public List<ResultObject> write(String jobId, AnimationResult result, List<OutputFormat> formats, double fps)
            throws IOException {
        Files.createDirectories(scratch);
        Path dir = Files.createTempDirectory(scratch, jobId + "-");
        try {
            List<ResultObject> out = new ArrayList<>();
            for (OutputFormat f : formats) {
                switch (f) {
                    case GIF ->
                        upload(
                                out,
                                f,
                                AnimationWriter.write(result, OutputType.GIF, fps, dir.resolve("animation.gif")),
                                jobId,
                                "");
                    case MP4 ->
                        upload(
                                out,
                                f,
                                AnimationWriter.write(result, OutputType.MP4, fps, dir.resolve("animation.mp4")),
                                jobId,
                                "");
                    case PNG ->
                        upload(
                                out,
                                f,
                                AnimationWriter.write(result, OutputType.PNG, fps, dir.resolve("frames")),
                                jobId,
                                "frames/");
                    case FRAMES ->
                        upload(
                                out,
                                f,
                                AnimationWriter.write(
                                        result, OutputType.FRAMES, fps, dir.resolve("frames.safetensors")),
                                jobId,
                                "");
                }
            }
            return out;
        } finally {
            ModelDiskCache.deleteTree(dir);
        }
    }

    private void upload(List<ResultObject> out, OutputFormat f, List<Path> files, String jobId, String sub) {
        for (Path file : files) {
            String key = prefix(jobId) + sub + file.getFileName();
            PutResult r = store.put(key, file, PutOptions.DEFAULT.withContentType(f.contentType()));
            out.add(new ResultObject(f.json(), key, r.size(), r.sha256()));
        }
    }
}
