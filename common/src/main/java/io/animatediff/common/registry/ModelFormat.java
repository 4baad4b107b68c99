package io.animatediff.common.registry;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Optional;

/** How a registered model's files are laid out; tells the engine which loader and key table to use. */
public enum ModelFormat {
    /** A diffusers folder: {@code unet/}, {@code vae/}, {@code text_encoder/}, ... with config.json. */
    DIFFUSERS("diffusers"),
    /** One original-LDM {@code .safetensors} ({@code model.diffusion_model.*}, ...). */
    LDM_SAFETENSORS("ldm-safetensors"),
    /** A torch pickle zip ({@code .ckpt}, e.g. the official motion modules), read by a restricted unpickler. */
    CKPT("ckpt"),
    /** Motion-module weights in {@code .safetensors} (official or diffusers MotionAdapter layout). */
    MOTION_SAFETENSORS("motion-safetensors"),
    /** A kohya or diffusers/PEFT LoRA in {@code .safetensors}. */
    LORA_SAFETENSORS("lora-safetensors");

    private final String json;

    ModelFormat(String json) {
        this.json = json;
    }

    @JsonValue
    public String json() {
        return json;
    }

    public static Optional<ModelFormat> find(String json) {
        return Arrays.stream(values()).filter(f -> f.json.equals(json)).findFirst();
    }

    @JsonCreator
    static ModelFormat fromJson(String json) {
        return find(json)
                .orElseThrow(() -> new IllegalArgumentException("unknown model format '" + json + "': use one of "
                        + Arrays.stream(values()).map(ModelFormat::json).toList()));
    }

    @Override
    public String toString() {
        return json;
    }
}
