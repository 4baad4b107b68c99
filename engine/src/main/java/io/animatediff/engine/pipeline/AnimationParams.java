package io.animatediff.engine.pipeline;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;

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
        int decodeChunk) {

    public static Builder builder() {
        return new Builder();
    }

    public boolean classifierFreeGuidance() {
        return guidanceScale > 1.0;
    }

    /** Every problem with these parameters (empty if none), each naming the field and the limit. */
    public List<String> problems(int maxFrames) {
        List<String> p = new ArrayList<>();
        if ((prompt == null || prompt.isBlank()) && promptEmbeds == null) {
            p.add("prompt: give a prompt or prompt_embeds");
        }
        if (frames < 1 || frames > maxFrames) {
            p.add("num_frames: " + frames + " is outside [1, " + maxFrames + "] for this motion module");
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
                    decodeChunk);
        }
    }
}
