package io.animatediff.engine.pipeline;

import io.animatediff.engine.media.Frames;
import java.util.List;

/**
 * What a run produced: the final latents (1, 4, F, H/8, W/8) as float32 values (always), the
 * decoded frames (unless only latents were asked for), and warnings a user should see (e.g. a
 * truncated prompt).
 */
public record AnimationResult(float[] latents, long[] latentShape, Frames frames, List<String> warnings) {
    public AnimationResult {
        warnings = List.copyOf(warnings);
    }
}
