package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * Sliding context windows over the frame axis ({@code context} of a generation request): the UNet
 * runs on windows of {@code length} frames that overlap by {@code overlap} frames, so num_frames may
 * exceed the motion module's limit. JSON {@code {"length": 16, "overlap": 4, "stride": 1, "schedule":
 * "uniform", "weighting": "pyramid", "closed_loop": false}}; absent members take these defaults.
 * {@code stride} is prompt-travel/AnimateDiff-Evolved's dilation levels (1 = consecutive frames), not
 * diffusers FreeNoise's context_stride (which is length - overlap here).
 *
 * @param length frames per window, at most the motion module's positions (16 for the official modules)
 * @param overlap frames shared by neighbouring windows, 0 <= overlap < length
 * @param stride dilation levels: 2 adds windows over every 2nd frame, 3 also every 4th
 * @param schedule {@code uniform} (windows end at the last frame) or {@code looped} (windows wrap)
 * @param weighting how overlaps blend: {@code pyramid} (window centres count most) or {@code flat}
 * @param closedLoop with {@code looped}: the last frames blend into the first (seamless loop)
 */
public record ContextOptions(
        @JsonProperty("length") int length,
        @JsonProperty("overlap") int overlap,
        @JsonProperty("stride") int stride,
        @JsonProperty("schedule") String schedule,
        @JsonProperty("weighting") String weighting,
        @JsonProperty("closed_loop") boolean closedLoop) {
    public static final int DEFAULT_LENGTH = 16;
    public static final int DEFAULT_OVERLAP = 4;
    public static final int DEFAULT_STRIDE = 1;
    public static final String DEFAULT_SCHEDULE = "uniform";
    public static final String DEFAULT_WEIGHTING = "pyramid";
    public static final List<String> SCHEDULES = List.of("uniform", "looped");
    public static final List<String> WEIGHTINGS = List.of("pyramid", "flat");

    public ContextOptions {
        schedule = schedule == null ? DEFAULT_SCHEDULE : schedule;
        weighting = weighting == null ? DEFAULT_WEIGHTING : weighting;
    }

    /** The defaults: 16 frames, overlap 4, stride 1, uniform, pyramid, open. */
    public static ContextOptions defaults() {
        return new ContextOptions(
                DEFAULT_LENGTH, DEFAULT_OVERLAP, DEFAULT_STRIDE, DEFAULT_SCHEDULE, DEFAULT_WEIGHTING, false);
    }

    @JsonCreator
    static ContextOptions fromJson(
            @JsonProperty("length") Integer length,
            @JsonProperty("overlap") Integer overlap,
            @JsonProperty("stride") Integer stride,
            @JsonProperty("schedule") String schedule,
            @JsonProperty("weighting") String weighting,
            @JsonProperty("closed_loop") Boolean closedLoop) {
        return new ContextOptions(
                length == null ? DEFAULT_LENGTH : length,
                overlap == null ? DEFAULT_OVERLAP : overlap,
                stride == null ? DEFAULT_STRIDE : stride,
                schedule,
                weighting,
                closedLoop != null && closedLoop);
    }
}
