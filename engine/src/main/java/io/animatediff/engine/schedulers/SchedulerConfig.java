package io.animatediff.engine.schedulers;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A diffusers {@code scheduler_config.json} (the {@code @register_to_config} arguments of
 * DDIMScheduler and EulerDiscreteScheduler). Absent keys take diffusers' defaults, except the beta
 * range and schedule, which default to Stable Diffusion 1.5's (0.00085, 0.012, "scaled_linear").
 * Unknown keys (e.g. {@code skip_prk_steps}, {@code _diffusers_version}) are ignored, as diffusers'
 * from_config does; options we do not implement are refused when enabled.
 *
 * @param className {@code _class_name}, informative only (e.g. "PNDMScheduler" in SD1.5 folders)
 * @param trainedBetas explicit betas (T) replacing the beta schedule, or null
 * @param timestepSpacing "leading", "linspace" or "trailing"; null means the scheduler's own default
 *     (DDIM "leading", Euler "linspace"), as when diffusers loads a config lacking the key
 * @param sigmaMin Karras lower sigma, or null for the schedule's last sigma
 * @param sigmaMax Karras upper sigma, or null for the schedule's first sigma
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record SchedulerConfig(
        @JsonProperty("_class_name") String className,
        @JsonProperty("num_train_timesteps") int numTrainTimesteps,
        @JsonProperty("beta_start") double betaStart,
        @JsonProperty("beta_end") double betaEnd,
        @JsonProperty("beta_schedule") String betaSchedule,
        @JsonProperty("trained_betas") List<Double> trainedBetas,
        @JsonProperty("clip_sample") boolean clipSample,
        @JsonProperty("clip_sample_range") double clipSampleRange,
        @JsonProperty("set_alpha_to_one") boolean setAlphaToOne,
        @JsonProperty("steps_offset") int stepsOffset,
        @JsonProperty("prediction_type") String predictionType,
        @JsonProperty("timestep_spacing") String timestepSpacing,
        @JsonProperty("rescale_betas_zero_snr") boolean rescaleBetasZeroSnr,
        @JsonProperty("interpolation_type") String interpolationType,
        @JsonProperty("use_karras_sigmas") boolean useKarrasSigmas,
        @JsonProperty("sigma_min") Double sigmaMin,
        @JsonProperty("sigma_max") Double sigmaMax,
        @JsonProperty("final_sigmas_type") String finalSigmasType,
        @JsonProperty("thresholding") boolean thresholding,
        @JsonProperty("timestep_type") String timestepType,
        @JsonProperty("use_exponential_sigmas") boolean useExponentialSigmas,
        @JsonProperty("use_beta_sigmas") boolean useBetaSigmas) {

    public static final Set<String> BETA_SCHEDULES = Set.of("linear", "scaled_linear", "squaredcos_cap_v2");
    public static final Set<String> PREDICTION_TYPES = Set.of("epsilon", "v_prediction", "sample");
    public static final Set<String> TIMESTEP_SPACINGS = Set.of("leading", "linspace", "trailing");

    private static final ObjectMapper JSON =
            new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public SchedulerConfig {
        if (numTrainTimesteps < 2) {
            throw invalid("num_train_timesteps", numTrainTimesteps, "must be at least 2");
        }
        if (!BETA_SCHEDULES.contains(betaSchedule)) {
            throw invalid("beta_schedule", quote(betaSchedule), "must be one of " + BETA_SCHEDULES);
        }
        if (!(betaStart >= 0 && betaStart <= betaEnd && betaEnd < 1)) {
            throw invalid(
                    "beta_start/beta_end",
                    betaStart + "/" + betaEnd,
                    "need 0 <= beta_start <= beta_end < 1 (Stable Diffusion 1.5 uses 0.00085/0.012)");
        }
        if (trainedBetas != null) {
            if (trainedBetas.size() != numTrainTimesteps) {
                throw invalid(
                        "trained_betas",
                        trainedBetas.size() + " values",
                        "must hold num_train_timesteps = " + numTrainTimesteps + " values");
            }
            for (int i = 0; i < trainedBetas.size(); i++) {
                Double b = trainedBetas.get(i);
                if (b == null || !(b >= 0 && b < 1)) {
                    throw invalid("trained_betas[" + i + "]", b, "must lie in [0, 1)");
                }
            }
            trainedBetas = List.copyOf(trainedBetas);
        }
        if (!(clipSampleRange > 0)) {
            throw invalid("clip_sample_range", clipSampleRange, "must be > 0");
        }
        if (stepsOffset < 0 || stepsOffset >= numTrainTimesteps) {
            throw invalid("steps_offset", stepsOffset, "must lie in [0, num_train_timesteps)");
        }
        if (!PREDICTION_TYPES.contains(predictionType)) {
            throw invalid("prediction_type", quote(predictionType), "must be one of " + PREDICTION_TYPES);
        }
        if (timestepSpacing != null && !TIMESTEP_SPACINGS.contains(timestepSpacing)) {
            throw invalid(
                    "timestep_spacing",
                    quote(timestepSpacing),
                    "must be one of " + TIMESTEP_SPACINGS + " (or absent for the scheduler's default)");
        }
        if (!"linear".equals(interpolationType)) {
            throw invalid("interpolation_type", quote(interpolationType), "only \"linear\" is supported");
        }
        if (sigmaMin != null && !(sigmaMin > 0)) {
            throw invalid("sigma_min", sigmaMin, "must be > 0");
        }
        if (sigmaMax != null && !(sigmaMax > 0 && (sigmaMin == null || sigmaMax >= sigmaMin))) {
            throw invalid("sigma_max", sigmaMax, "must be > 0 and >= sigma_min");
        }
        if (!"zero".equals(finalSigmasType) && !"sigma_min".equals(finalSigmasType)) {
            throw invalid("final_sigmas_type", quote(finalSigmasType), "must be \"zero\" or \"sigma_min\"");
        }
        if (thresholding) {
            throw invalid("thresholding", true, "dynamic thresholding is not supported; set it to false");
        }
        if (!"discrete".equals(timestepType)) {
            throw invalid("timestep_type", quote(timestepType), "only \"discrete\" is supported");
        }
        if (useExponentialSigmas || useBetaSigmas) {
            throw new IllegalArgumentException("scheduler config: use_exponential_sigmas/use_beta_sigmas are not"
                    + " supported; use use_karras_sigmas or the default sigmas");
        }
    }

    /** Jackson entry: absent or null keys take their defaults, then the compact constructor validates. */
    @JsonCreator
    static SchedulerConfig fromJson(
            @JsonProperty("_class_name") String className,
            @JsonProperty("num_train_timesteps") Integer numTrainTimesteps,
            @JsonProperty("beta_start") Double betaStart,
            @JsonProperty("beta_end") Double betaEnd,
            @JsonProperty("beta_schedule") String betaSchedule,
            @JsonProperty("trained_betas") List<Double> trainedBetas,
            @JsonProperty("clip_sample") Boolean clipSample,
            @JsonProperty("clip_sample_range") Double clipSampleRange,
            @JsonProperty("set_alpha_to_one") Boolean setAlphaToOne,
            @JsonProperty("steps_offset") Integer stepsOffset,
            @JsonProperty("prediction_type") String predictionType,
            @JsonProperty("timestep_spacing") String timestepSpacing,
            @JsonProperty("rescale_betas_zero_snr") Boolean rescaleBetasZeroSnr,
            @JsonProperty("interpolation_type") String interpolationType,
            @JsonProperty("use_karras_sigmas") Boolean useKarrasSigmas,
            @JsonProperty("sigma_min") Double sigmaMin,
            @JsonProperty("sigma_max") Double sigmaMax,
            @JsonProperty("final_sigmas_type") String finalSigmasType,
            @JsonProperty("thresholding") Boolean thresholding,
            @JsonProperty("timestep_type") String timestepType,
            @JsonProperty("use_exponential_sigmas") Boolean useExponentialSigmas,
            @JsonProperty("use_beta_sigmas") Boolean useBetaSigmas) {
        return new SchedulerConfig(
                className,
                or(numTrainTimesteps, 1000),
                or(betaStart, 0.00085),
                or(betaEnd, 0.012),
                or(betaSchedule, "scaled_linear"),
                trainedBetas,
                or(clipSample, true),
                or(clipSampleRange, 1.0),
                or(setAlphaToOne, true),
                or(stepsOffset, 0),
                or(predictionType, "epsilon"),
                timestepSpacing,
                or(rescaleBetasZeroSnr, false),
                or(interpolationType, "linear"),
                or(useKarrasSigmas, false),
                sigmaMin,
                sigmaMax,
                or(finalSigmasType, "zero"),
                or(thresholding, false),
                or(timestepType, "discrete"),
                or(useExponentialSigmas, false),
                or(useBetaSigmas, false));
    }

    /** Every key absent: diffusers' defaults with Stable Diffusion 1.5's betas. */
    public static SchedulerConfig defaults() {
        return parse("{}");
    }

    /**
     * The scheduler of the official AnimateDiff inference: {@code DDIMScheduler(**noise_scheduler_kwargs)}
     * with the kwargs of configs/inference/inference-v{1,2,3}.yaml (beta_start 0.00085, beta_end 0.012,
     * "linear", steps_offset 1, clip_sample false); everything else is DDIMScheduler's default
     * (set_alpha_to_one true, epsilon, "leading" spacing).
     */
    public static SchedulerConfig animateDiffDefault() {
        return parse("{\"_class_name\": \"DDIMScheduler\", \"beta_start\": 0.00085, \"beta_end\": 0.012,"
                + " \"beta_schedule\": \"linear\", \"steps_offset\": 1, \"clip_sample\": false}");
    }

    /** Reads a {@code scheduler_config.json} (or {@code scheduler/config.json}) of a diffusers folder. */
    public static SchedulerConfig read(Path schedulerConfigJson) {
        String text;
        try {
            text = Files.readString(schedulerConfigJson);
        } catch (IOException e) {
            throw new IllegalArgumentException(
                    "cannot read scheduler config " + schedulerConfigJson + ": " + e.getMessage(), e);
        }
        try {
            return parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("scheduler config " + schedulerConfigJson + ": " + e.getMessage(), e);
        }
    }

    /** Parses scheduler config JSON text (snake_case keys, as diffusers writes them). */
    public static SchedulerConfig parse(String json) {
        try {
            SchedulerConfig cfg = JSON.readValue(json, SchedulerConfig.class);
            if (cfg == null) {
                throw new IllegalArgumentException("expected a JSON object, got " + json.strip());
            }
            return cfg;
        } catch (JsonProcessingException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IllegalArgumentException iae) {
                throw iae;
            }
            throw new IllegalArgumentException("invalid scheduler config JSON: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * A copy with some keys replaced, named as in the JSON ({@code Map.of("prediction_type",
     * "v_prediction")}); the result is validated like a loaded file.
     */
    public SchedulerConfig with(Map<String, ?> snakeCaseOverrides) {
        Map<String, Object> map = new LinkedHashMap<>(toJsonMap());
        for (Map.Entry<String, ?> e : snakeCaseOverrides.entrySet()) {
            if (!map.containsKey(e.getKey())) {
                throw new IllegalArgumentException(
                        "unknown scheduler config key " + quote(e.getKey()) + "; known keys: " + map.keySet());
            }
            map.put(e.getKey(), e.getValue());
        }
        try {
            return parse(JSON.writeValueAsString(map));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot apply scheduler config overrides " + snakeCaseOverrides, e);
        }
    }

    /** The config as diffusers' JSON keys and values. */
    public Map<String, Object> toJsonMap() {
        return JSON.convertValue(this, new com.fasterxml.jackson.core.type.TypeReference<>() {});
    }

    /** timestep_spacing, or the given scheduler default when absent. */
    String timestepSpacingOr(String schedulerDefault) {
        return timestepSpacing != null ? timestepSpacing : schedulerDefault;
    }

    private static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }

    private static String quote(Object s) {
        return s == null ? "null" : "\"" + s + "\"";
    }

    private static IllegalArgumentException invalid(String key, Object value, String rule) {
        return new IllegalArgumentException("scheduler config: " + key + " = " + value + " " + rule);
    }
}
