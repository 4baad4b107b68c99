package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A LoRA (or MotionLoRA) to merge, by registered name, with its scale ({@code W += scale *
 * (alpha/rank) * up @ down}). JSON {@code {"name": "...", "scale": 0.8}}; scale defaults to 1.0.
 */
public record LoraSpec(
        @JsonProperty("name") String name,
        @JsonProperty("scale") double scale) {
    public static final double DEFAULT_SCALE = 1.0;

    public LoraSpec {
        name = name == null ? "" : name;
    }

    @JsonCreator
    static LoraSpec fromJson(@JsonProperty("name") String name, @JsonProperty("scale") Double scale) {
        return new LoraSpec(name, scale == null ? DEFAULT_SCALE : scale);
    }
}
