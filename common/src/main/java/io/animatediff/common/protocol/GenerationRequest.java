package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

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
 * @param promptMap prompt travel: frame -> prompt, embeddings interpolated between key frames
 *     (must contain frame 0; empty for the single {@code prompt})
 * @param motionScale multiplier on the temporal attention logits (1 = the reference; above 1 more
 *     motion, below less), as AnimateDiff-Evolved's motion scale
 * @param context sliding context windows for num_frames beyond the motion module's limit, or null
 * @param video video-to-video input: a GIF or MP4 file, base64-encoded, or null for text-to-video
 * @param strength video-to-video: how far the input is noised before denoising (0 keeps it, 1
 *     replaces it; diffusers' default 0.8)
 * @param freeInit FreeInit noise re-initialisation, or null
 * @param timestepSpacing {@code leading}, {@code linspace} or {@code trailing} (AnimateDiff-Lightning:
 *     euler + trailing), or null for the scheduler's default
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
        @JsonProperty("fps") int fps,
        @JsonProperty("prompt_map") SortedMap<Integer, String> promptMap,
        @JsonProperty("motion_scale") double motionScale,
        @JsonProperty("context") ContextOptions context,
        @JsonProperty("video") String video,
        @JsonProperty("strength") double strength,
        @JsonProperty("free_init") FreeInitOptions freeInit,
        @JsonProperty("timestep_spacing") String timestepSpacing) {

    public static final int DEFAULT_NUM_FRAMES = 16;
    public static final double DEFAULT_MOTION_SCALE = 1.0;
    public static final double DEFAULT_STRENGTH = 0.8;
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
        public static final String PROMPT_MAP = "prompt_map";
        public static final String MOTION_SCALE = "motion_scale";
        public static final String CONTEXT = "context";
        public static final String VIDEO = "video";
        public static final String STRENGTH = "strength";
        public static final String FREE_INIT = "free_init";
        public static final String TIMESTEP_SPACING = "timestep_spacing";

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
                FPS,
                PROMPT_MAP,
                MOTION_SCALE,
                CONTEXT,
                VIDEO,
                STRENGTH,
                FREE_INIT,
                TIMESTEP_SPACING);

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
        promptMap = Collections.unmodifiableSortedMap(promptMap == null ? new TreeMap<>() : new TreeMap<>(promptMap));
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
            @JsonProperty("fps") Integer fps,
            @JsonProperty("prompt_map") Map<Integer, String> promptMap,
            @JsonProperty("motion_scale") Double motionScale,
            @JsonProperty("context") ContextOptions context,
            @JsonProperty("video") String video,
            @JsonProperty("strength") Double strength,
            @JsonProperty("free_init") FreeInitOptions freeInit,
            @JsonProperty("timestep_spacing") String timestepSpacing) {
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
                fps == null ? DEFAULT_FPS : fps,
                promptMap == null ? null : new TreeMap<>(promptMap),
                motionScale == null ? DEFAULT_MOTION_SCALE : motionScale,
                context,
                video,
                strength == null ? DEFAULT_STRENGTH : strength,
                freeInit,
                timestepSpacing);
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
                .fps(fps)
                .promptMap(promptMap)
                .motionScale(motionScale)
                .context(context)
                .video(video)
                .strength(strength)
                .freeInit(freeInit)
                .timestepSpacing(timestepSpacing);
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
        private SortedMap<Integer, String> promptMap = new TreeMap<>();
        private double motionScale = DEFAULT_MOTION_SCALE;
        private ContextOptions context;
        private String video;
        private double strength = DEFAULT_STRENGTH;
        private FreeInitOptions freeInit;
        private String timestepSpacing;

        private Builder() {}

        public Builder promptMap(Map<Integer, String> v) {
            promptMap = v == null ? null : new TreeMap<>(v);
            return this;
        }

        public Builder motionScale(double v) {
            motionScale = v;
            return this;
        }

        public Builder context(ContextOptions v) {
            context = v;
            return this;
        }

        /** A GIF or MP4 file, base64-encoded. */
        public Builder video(String base64) {
            video = base64;
            return this;
        }

        public Builder strength(double v) {
            strength = v;
            return this;
        }

        public Builder freeInit(FreeInitOptions v) {
            freeInit = v;
            return this;
        }

        public Builder timestepSpacing(String v) {
            timestepSpacing = v;
            return this;
        }

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
                    fps,
                    promptMap,
                    motionScale,
                    context,
                    video,
                    strength,
                    freeInit,
                    timestepSpacing);
        }
    }
}
