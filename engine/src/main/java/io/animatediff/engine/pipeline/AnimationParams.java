package io.animatediff.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.schedulers.SchedulerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One generation's inputs, with diffusers' names and AnimateDiff's defaults (scripts/animate.py):
 * 16 frames, 512x512, 25 DDIM steps, guidance 7.5. Built with {@link #builder()}; checked by
 * {@link AnimationPipeline#checkInputs}.
 *
 * @param promptEmbeds precomputed (1, S, C) text embedding instead of the prompt, or null
 * @param negativePromptEmbeds precomputed (1, S, C) negative embedding, or null
 * @param latents initial latents (1, 4, F, H/8, W/8) instead of seeded noise, or null
 * @param seed unsigned 64-bit bit pattern
 * @param decodeChunk frames the VAE decodes at once (memory stays flat in F)
 * @param context sliding context windows over the frames, or null for one UNet call over all F
 * @param promptMap prompt travel: frame -> prompt (embeddings interpolated between keyframes), empty
 *     for the single {@code prompt}
 * @param video video-to-video input (1, 3, F, H, W) in [-1, 1], or null for text-to-video
 * @param strength video-to-video: how much noise is added to the input (0 keeps it, 1 replaces it)
 * @param freeInit FreeInit noise re-initialisation, or null
 * @param timestepSpacing "leading", "linspace" or "trailing", or null for the scheduler's default
 * @param guidanceSplit with classifier-free guidance, run the negative and the positive half as two
 *     UNet calls of batch 1 instead of one of batch 2: half the UNet's activation memory, the same
 *     output (see {@link MemoryPlan#fit})
 */
public record AnimationParams(
        String prompt,
        String negativePrompt,
        int frames,
        int width,
        int height,
        int steps,
        double guidanceScale,
        long seed,
        String scheduler,
        double eta,
        double motionScale,
        NDArray promptEmbeds,
        NDArray negativePromptEmbeds,
        NDArray latents,
        int decodeChunk,
        ContextWindows context,
        SortedMap<Integer, String> promptMap,
        NDArray video,
        double strength,
        FreeInit freeInit,
        String timestepSpacing,
        boolean guidanceSplit) {

    /** Most frames one generation may have with context windows (memory grows linearly in F). */
    public static final int MAX_FRAMES_WITH_CONTEXT = 1024;

    public AnimationParams {
        promptMap = promptMap == null ? new TreeMap<>() : new TreeMap<>(promptMap);
    }

    public static Builder builder() {
        return new Builder();
    }

    public boolean classifierFreeGuidance() {
        return guidanceScale > 1.0;
    }

    /** Every problem with these parameters (empty if none), each naming the field and the limit. */
    public List<String> problems(int maxFrames) {
        List<String> p = new ArrayList<>();
        if ((prompt == null || prompt.isBlank()) && promptEmbeds == null && promptMap.isEmpty()) {
            p.add("prompt: give a prompt, a prompt_map or prompt_embeds");
        }
        if (!promptMap.isEmpty() && !promptMap.containsKey(0)) {
            p.add("prompt_map: has no entry for frame 0 (key frames " + promptMap.keySet()
                    + "): give frame 0 its prompt");
        }
        if (context == null && (frames < 1 || frames > maxFrames)) {
            p.add("num_frames: " + frames + " is outside [1, " + maxFrames
                    + "] for this motion module: request fewer frames or use context windows (context_length)");
        }
        if (context != null) {
            if (frames < 1 || frames > MAX_FRAMES_WITH_CONTEXT) {
                p.add("num_frames: " + frames + " is outside [1, " + MAX_FRAMES_WITH_CONTEXT + "]");
            }
            p.addAll(ContextWindows.problems(
                    context.length(),
                    context.overlap(),
                    context.stride(),
                    context.schedule(),
                    context.closedLoop(),
                    maxFrames));
            if (context.closedLoop() && frames <= context.length()) {
                p.add("closed_loop: num_frames " + frames + " must exceed context_length " + context.length()
                        + " (a loop is closed by windows that wrap around)");
            }
        }
        for (Map.Entry<Integer, String> e : promptMap.entrySet()) {
            if (e.getKey() < 0 || e.getKey() >= frames) {
                p.add("prompt_map: key frame " + e.getKey() + " is outside [0, " + (frames - 1) + "]");
            }
            if (e.getValue() == null || e.getValue().isBlank()) {
                p.add("prompt_map: the prompt of frame " + e.getKey() + " is blank");
            }
        }
        if (!promptMap.isEmpty() && promptEmbeds != null) {
            p.add("prompt_map: give a prompt_map or prompt_embeds, not both");
        }
        if (!(strength >= 0) || strength > 1) {
            p.add("strength: " + strength + " is outside [0, 1]");
        }
        if (video != null && latents != null) {
            p.add("video: give a video or latents, not both");
        }
        if (video != null) {
            Shape want = new Shape(1, 3, frames, height, width);
            if (!video.getShape().equals(want)) {
                p.add("video: shape " + video.getShape() + " must be " + want + " (1, 3, num_frames, height, width)");
            }
        }
        if (timestepSpacing != null && !SchedulerConfig.TIMESTEP_SPACINGS.contains(timestepSpacing)) {
            p.add("timestep_spacing: \"" + timestepSpacing + "\" is unknown: use leading, linspace or trailing");
        }
        if (width < 8 || width % 8 != 0 || height < 8 || height % 8 != 0) {
            p.add("width/height: " + width + "x" + height + " must be positive multiples of 8");
        }
        if (steps < 1 || steps > 1000) {
            p.add("num_inference_steps: " + steps + " is outside [1, 1000]");
        }
        if (!(guidanceScale >= 0) || guidanceScale > 100) {
            p.add("guidance_scale: " + guidanceScale + " is outside [0, 100]");
        }
        if (!(eta >= 0) || eta > 1) {
            p.add("eta: " + eta + " is outside [0, 1]");
        }
        if (!(motionScale >= 0) || motionScale > 10) {
            p.add("motion_scale: " + motionScale + " is outside [0, 10]");
        }
        if (decodeChunk < 1) {
            p.add("decode_chunk: " + decodeChunk + " must be >= 1");
        }
        return p;
    }

    /** Builder with AnimateDiff's defaults. */
    public static final class Builder {
        private String prompt;
        private String negativePrompt = "";
        private int frames = 16;
        private int width = 512;
        private int height = 512;
        private int steps = 25;
        private double guidanceScale = 7.5;
        private long seed = 42;
        private String scheduler = "ddim";
        private double eta = 0.0;
        private double motionScale = 1.0;
        private NDArray promptEmbeds;
        private NDArray negativePromptEmbeds;
        private NDArray latents;
        private int decodeChunk = 1;
        private ContextWindows context;
        private SortedMap<Integer, String> promptMap = new TreeMap<>();
        private NDArray video;
        private double strength = 1.0;
        private FreeInit freeInit;
        private String timestepSpacing;
        private boolean guidanceSplit;

        public Builder prompt(String v) {
            prompt = v;
            return this;
        }

        public Builder negativePrompt(String v) {
            negativePrompt = v == null ? "" : v;
            return this;
        }

        public Builder frames(int v) {
            frames = v;
            return this;
        }

        public Builder size(int w, int h) {
            width = w;
            height = h;
            return this;
        }

        public Builder steps(int v) {
            steps = v;
            return this;
        }

        public Builder guidanceScale(double v) {
            guidanceScale = v;
            return this;
        }

        public Builder seed(long unsignedSeed) {
            seed = unsignedSeed;
            return this;
        }

        public Builder scheduler(String v) {
            scheduler = v;
            return this;
        }

        public Builder eta(double v) {
            eta = v;
            return this;
        }

        public Builder motionScale(double v) {
            motionScale = v;
            return this;
        }

        public Builder promptEmbeds(NDArray positive, NDArray negative) {
            promptEmbeds = positive;
            negativePromptEmbeds = negative;
            return this;
        }

        public Builder latents(NDArray v) {
            latents = v;
            return this;
        }

        public Builder decodeChunk(int v) {
            decodeChunk = v;
            return this;
        }

        public Builder context(ContextWindows v) {
            context = v;
            return this;
        }

        public Builder promptMap(Map<Integer, String> v) {
            promptMap = v == null ? new TreeMap<>() : new TreeMap<>(v);
            return this;
        }

        /** Video-to-video input (1, 3, F, H, W) in [-1, 1] and the noise strength in [0, 1]. */
        public Builder video(NDArray v, double noiseStrength) {
            video = v;
            strength = noiseStrength;
            return this;
        }

        public Builder freeInit(FreeInit v) {
            freeInit = v;
            return this;
        }

        public Builder timestepSpacing(String v) {
            timestepSpacing = v;
            return this;
        }

        public Builder guidanceSplit(boolean v) {
            guidanceSplit = v;
            return this;
        }

        public AnimationParams build() {
            return new AnimationParams(
                    prompt,
                    negativePrompt,
                    frames,
                    width,
                    height,
                    steps,
                    guidanceScale,
                    seed,
                    scheduler,
                    eta,
                    motionScale,
                    promptEmbeds,
                    negativePromptEmbeds,
                    latents,
                    decodeChunk,
                    context,
                    promptMap,
                    video,
                    strength,
                    freeInit,
                    timestepSpacing,
                    guidanceSplit);
        }
    }
}
