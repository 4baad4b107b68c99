package io.animatediff.common.protocol;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** Noise schedulers a generation job may name ({@code scheduler}), by their JSON names. */
public enum SchedulerName {
    /** DDIM, "leading" spacing, steps_offset 1, eta 0 (the official AnimateDiff default). */
    DDIM("ddim"),
    /** Euler discrete (few-step motion modules use it with "trailing" spacing). */
    EULER("euler"),
    /** Latent consistency sampler (AnimateLCM: 4-8 steps, guidance 1-2). */
    LCM("lcm");

    private final String json;

    SchedulerName(String json) {
        this.json = json;
    }

    public String json() {
        return json;
    }

    /** Looks a scheduler up by its JSON name. */
    public static Optional<SchedulerName> find(String json) {
        return Arrays.stream(values()).filter(s -> s.json.equals(json)).findFirst();
    }

    /** All JSON names, for messages. */
    public static List<String> names() {
        return Arrays.stream(values()).map(SchedulerName::json).toList();
    }
}
