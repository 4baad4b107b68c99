package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Optional;

/** What a registered model is; its JSON name is also its folder in {@code models/<kind>/<name>/}. */
public enum ModelKind {
    /** A Stable Diffusion 1.5 image model (UNet, VAE, text encoder). */
    BASE("base"),
    /** An AnimateDiff motion module. */
    MOTION("motion"),
    /** A LoRA on the image model (personalisation, the v3 domain adapter). */
    LORA("lora"),
    /** A MotionLoRA on the motion module's attention projections. */
    MOTION_LORA("motion-lora");

    private final String json;

    ModelKind(String json) {
        this.json = json;
    }

    /** The JSON and path name, e.g. {@code motion-lora}. */
    @JsonValue
    public String json() {
        return json;
    }

    /** Looks a kind up by its JSON name. */
    public static Optional<ModelKind> find(String json) {
        return Arrays.stream(values()).filter(k -> k.json.equals(json)).findFirst();
    }

    @JsonCreator
    static ModelKind fromJson(String json) {
        return find(json)
                .orElseThrow(() -> new IllegalArgumentException(
                        "unknown model kind '" + json + "': use one of base, motion, lora, motion-lora"));
    }

    @Override
    public String toString() {
        return json;
    }
}
