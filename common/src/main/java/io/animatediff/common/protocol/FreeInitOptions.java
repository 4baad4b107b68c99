package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * FreeInit ({@code free_init} of a generation request; diffusers' {@code enable_free_init}
 * arguments): the denoising loop runs {@code num_iters} times, each later pass starting from the
 * previous result's low frequencies plus fresh high-frequency noise. Less flicker at num_iters times
 * the cost. JSON {@code {"num_iters": 3, "method": "butterworth", "order": 4,
 * "spatial_stop_frequency": 0.25, "temporal_stop_frequency": 0.25, "use_fast_sampling": false}};
 * absent members take these (diffusers') defaults.
 */
public record FreeInitOptions(
        @JsonProperty("num_iters") int numIters,
        @JsonProperty("method") String method,
        @JsonProperty("order") int order,
        @JsonProperty("spatial_stop_frequency") double spatialStopFrequency,
        @JsonProperty("temporal_stop_frequency") double temporalStopFrequency,
        @JsonProperty("use_fast_sampling") boolean useFastSampling) {
    public static final int DEFAULT_NUM_ITERS = 3;
    public static final String DEFAULT_METHOD = "butterworth";
    public static final int DEFAULT_ORDER = 4;
    public static final double DEFAULT_STOP_FREQUENCY = 0.25;
    public static final List<String> METHODS = List.of("butterworth", "gaussian", "ideal");

    public FreeInitOptions {
        method = method == null ? DEFAULT_METHOD : method;
    }

    /** diffusers' defaults. */
    public static FreeInitOptions defaults() {
        return new FreeInitOptions(
                DEFAULT_NUM_ITERS,
                DEFAULT_METHOD,
                DEFAULT_ORDER,
                DEFAULT_STOP_FREQUENCY,
                DEFAULT_STOP_FREQUENCY,
                false);
    }

    @JsonCreator
    static FreeInitOptions fromJson(
            @JsonProperty("num_iters") Integer numIters,
            @JsonProperty("method") String method,
            @JsonProperty("order") Integer order,
            @JsonProperty("spatial_stop_frequency") Double spatial,
            @JsonProperty("temporal_stop_frequency") Double temporal,
            @JsonProperty("use_fast_sampling") Boolean fast) {
        return new FreeInitOptions(
                numIters == null ? DEFAULT_NUM_ITERS : numIters,
                method,
                order == null ? DEFAULT_ORDER : order,
                spatial == null ? DEFAULT_STOP_FREQUENCY : spatial,
                temporal == null ? DEFAULT_STOP_FREQUENCY : temporal,
                fast != null && fast);
    }
}
