package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * What a user asks for: one AnimateDiff text-to-video generation. Parameter names are diffusers'
 * ({@code AnimateDiffPipeline.__call__}); defaults are the official {@code scripts/animate.py}
 * ones. Absent JSON fields take the defaults below; {@code seed} stays absent until the gateway
 * fixes one ({@link #withSeed}), so every queued job is reproducible.
 *
 * <p>The record holds whatever was sent (null text becomes empty, null lists become empty); ranges,
 * names and formats are checked by {@code GenerationRequestValidator}, which reports every problem
 * with its field name.
 *
 * @param prompt what to show
 * @param negativePrompt what to avoid (classifier-free guidance's unconditional text)
 * @param baseModel registered base model name
 * @param motionModule registered motion module name
 * @param loras image LoRAs to merge, in order
 * @param motionLoras MotionLoRAs to merge, in order
 * @param numFrames frames to generate (F)
 * @param width frame width in pixels (W = 8 * latent width)
 * @param height frame height in pixels (H = 8 * latent height)
 * @param numInferenceSteps denoising steps
 * @param guidanceScale classifier-free guidance weight (1 disables the unconditional pass)
 * @param scheduler {@code ddim} or {@code euler}
 * @param seed unsigned 64-bit seed, or null until the gateway picks one
 * @param outputFormats encodings to write ({@code gif}, {@code mp4}, {@code png}, {@code frames})
 * @param fps playback rate of GIF/MP4 outputs
 */
public record GenerationRequest(
        @JsonProperty("prompt") String prompt,
        @JsonProperty("negative_prompt") String negativePrompt,
        @JsonProperty("base_model") String baseModel,
        @JsonProperty("motion_module") String motionModule,
        @JsonProperty("loras") List<LoraSpec> loras,
        @JsonProperty("motion_loras") List<LoraSpec> motionLoras,
        @JsonProperty("num_frames") int numFrames,
        @JsonProperty("width") int width,
        @JsonProperty("height") int height,
        @JsonProperty("num_inference_steps") int numInferenceSteps,
        @JsonProperty("guidance_scale") double guidanceScale,
        @JsonProperty("scheduler") String scheduler,
        @JsonProperty("seed") Seed seed,
        @JsonProperty("output_formats") List<String> outputFormats,
        @JsonProperty("fps") int fps) {

    public static final int DEFAULT_NUM_FRAMES = 16;
    public static final int DEFAULT_WIDTH = 512;
    public static final int DEFAULT_HEIGHT = 512;
    public static final int DEFAULT_NUM_INFERENCE_STEPS = 25;
    public static final double DEFAULT_GUIDANCE_SCALE = 7.5;
    public static final String DEFAULT_SCHEDULER = SchedulerName.DDIM.json();
    public static final List<String> DEFAULT_OUTPUT_FORMATS = List.of(OutputFormat.GIF.json());
    public static final int DEFAULT_FPS = 8;

    /** JSON field names, as violations and errors name them. */
    public static final class Fields {
        public static final String PROMPT = "prompt";
        public static final String NEGATIVE_PROMPT = "negative_prompt";
        public static final String BASE_MODEL = "base_model";
        public static final String MOTION_MODULE = "motion_module";
        public static final String LORAS = "loras";
        public static final String MOTION_LORAS = "motion_loras";
        public static final String NUM_FRAMES = "num_frames";
        public static final String WIDTH = "width";
        public static final String HEIGHT = "height";
        public static final String NUM_INFERENCE_STEPS = "num_inference_steps";
        public static final String GUIDANCE_SCALE = "guidance_scale";
        public static final String SCHEDULER = "scheduler";
        public static final String SEED = "seed";
        public static final String OUTPUT_FORMATS = "output_formats";
        public static final String FPS = "fps";

        /** Every top-level field name. */
        public static final List<String> ALL = List.of(
                PROMPT,
                NEGATIVE_PROMPT,
                BASE_MODEL,
                MOTION_MODULE,
                LORAS,
                MOTION_LORAS,
                NUM_FRAMES,
                WIDTH,
                HEIGHT,
                NUM_INFERENCE_STEPS,
                GUIDANCE_SCALE,
                SCHEDULER,
                SEED,
                OUTPUT_FORMATS,
                FPS);

        private Fields() {}
    }

    public GenerationRequest {
        prompt = prompt == null ? "" : prompt;
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
        baseModel = baseModel == null ? "" : baseModel;
        motionModule = motionModule == null ? "" : motionModule;
        loras = Records.list(loras, Fields.LORAS);
        motionLoras = Records.list(motionLoras, Fields.MOTION_LORAS);
        scheduler = scheduler == null ? DEFAULT_SCHEDULER : scheduler;
        outputFormats =
                outputFormats == null ? DEFAULT_OUTPUT_FORMATS : Records.list(outputFormats, Fields.OUTPUT_FORMATS);
    }

    /** JSON entry point: absent numbers take their defaults; present ones are kept as sent. */
    @JsonCreator
    static GenerationRequest fromJson(
            @JsonProperty("prompt") String prompt,
            @JsonProperty("negative_prompt") String negativePrompt,
            @JsonProperty("base_model") String baseModel,
            @JsonProperty("motion_module") String motionModule,
            @JsonProperty("loras") List<LoraSpec> loras,
            @JsonProperty("motion_loras") List<LoraSpec> motionLoras,
            @JsonProperty("num_frames") Integer numFrames,
            @JsonProperty("width") Integer width,
            @JsonProperty("height") Integer height,
            @JsonProperty("num_inference_steps") Integer numInferenceSteps,
            @JsonProperty("guidance_scale") Double guidanceScale,
            @JsonProperty("scheduler") String scheduler,
            @JsonProperty("seed") Seed seed,
            @JsonProperty("output_formats") List<String> outputFormats,
            @JsonProperty("fps") Integer fps) {
        return new GenerationRequest(
                prompt,
                negativePrompt,
                baseModel,
                motionModule,
                loras,
                motionLoras,
                numFrames == null ? DEFAULT_NUM_FRAMES : numFrames,
                width == null ? DEFAULT_WIDTH : width,
                height == null ? DEFAULT_HEIGHT : height,
                numInferenceSteps == null ? DEFAULT_NUM_INFERENCE_STEPS : numInferenceSteps,
                guidanceScale == null ? DEFAULT_GUIDANCE_SCALE : guidanceScale,
                scheduler,
                seed,
                outputFormats,
                fps == null ? DEFAULT_FPS : fps);
    }

    /** The same request with the seed fixed (the gateway calls this when the user sent none). */
    public GenerationRequest withSeed(Seed newSeed) {
        return toBuilder().seed(newSeed).build();
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this request's values. */
    public Builder toBuilder() {
        return new Builder()
                .prompt(prompt)
                .negativePrompt(negativePrompt)
                .baseModel(baseModel)
                .motionModule(motionModule)
                .loras(loras)
                .motionLoras(motionLoras)
                .numFrames(numFrames)
                .width(width)
                .height(height)
                .numInferenceSteps(numInferenceSteps)
                .guidanceScale(guidanceScale)
                .scheduler(scheduler)
                .seed(seed)
                .outputFormats(outputFormats)
                .fps(fps);
    }

    /** Builds a request starting from the defaults. */
    public static final class Builder {
        private String prompt = "";
        private String negativePrompt = "";
        private String baseModel = "";
        private String motionModule = "";
        private List<LoraSpec> loras = List.of();
        private List<LoraSpec> motionLoras = List.of();
        private int numFrames = DEFAULT_NUM_FRAMES;
        private int width = DEFAULT_WIDTH;
        private int height = DEFAULT_HEIGHT;
        private int numInferenceSteps = DEFAULT_NUM_INFERENCE_STEPS;
        private double guidanceScale = DEFAULT_GUIDANCE_SCALE;
        private String scheduler = DEFAULT_SCHEDULER;
        private Seed seed;
        private List<String> outputFormats = DEFAULT_OUTPUT_FORMATS;
        private int fps = DEFAULT_FPS;

        private Builder() {}

        public Builder prompt(String v) {
            prompt = v;
            return this;
        }

        public Builder negativePrompt(String v) {
            negativePrompt = v;
            return this;
        }

        public Builder baseModel(String v) {
            baseModel = v;
            return this;
        }

        public Builder motionModule(String v) {
            motionModule = v;
            return this;
        }

        public Builder loras(List<LoraSpec> v) {
            loras = v;
            return this;
        }

        public Builder motionLoras(List<LoraSpec> v) {
            motionLoras = v;
            return this;
        }

        public Builder numFrames(int v) {
            numFrames = v;
            return this;
        }

        public Builder width(int v) {
            width = v;
            return this;
        }

        public Builder height(int v) {
            height = v;
            return this;
        }

        public Builder numInferenceSteps(int v) {
            numInferenceSteps = v;
            return this;
        }

        public Builder guidanceScale(double v) {
            guidanceScale = v;
            return this;
        }

        public Builder scheduler(String v) {
            scheduler = v;
            return this;
        }

        public Builder seed(Seed v) {
            seed = v;
            return this;
        }

        public Builder outputFormats(List<String> v) {
            outputFormats = v;
            return this;
        }

        public Builder fps(int v) {
            fps = v;
            return this;
        }

        public GenerationRequest build() {
            return new GenerationRequest(
                    prompt,
                    negativePrompt,
                    baseModel,
                    motionModule,
                    loras,
                    motionLoras,
                    numFrames,
                    width,
                    height,
                    numInferenceSteps,
                    guidanceScale,
                    scheduler,
                    seed,
                    outputFormats,
                    fps);
        }
    }
}
