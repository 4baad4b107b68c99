package io.animatediff.common.validation;

/**
 * Limits the generation validator enforces; configurable per deployment (a GPU with more memory
 * may allow larger frames). The frame limit is not here: it comes from the motion module.
 *
 * @param minSize smallest width/height in pixels
 * @param maxSize largest width/height in pixels
 * @param sizeMultiple width/height must be multiples of this (the VAE downsamples by 8)
 * @param maxSteps most denoising steps
 * @param maxGuidance largest guidance_scale (smallest is 0)
 * @param maxPromptChars longest prompt or negative prompt in characters
 * @param maxLoras most LoRAs, and separately most MotionLoRAs, per request
 * @param maxLoraScale largest |scale| of a LoRA
 * @param maxFps largest fps (smallest is 1)
 */
public record ValidationLimits(
        int minSize,
        int maxSize,
        int sizeMultiple,
        int maxSteps,
        double maxGuidance,
        int maxPromptChars,
        int maxLoras,
        double maxLoraScale,
        int maxFps) {

    /** The defaults: sizes 64..1024 in steps of 8, 150 steps, guidance 30, 4000 chars, 8 LoRAs. */
    public static final ValidationLimits DEFAULTS = new ValidationLimits(64, 1024, 8, 150, 30.0, 4000, 8, 4.0, 60);

    public ValidationLimits {
        if (sizeMultiple < 1 || minSize < sizeMultiple || maxSize < minSize) {
            throw new IllegalArgumentException("size limits must satisfy 1 <= sizeMultiple <= minSize <= maxSize, got "
                    + sizeMultiple + ", " + minSize + ", " + maxSize);
        }
        if (maxSteps < 1 || maxPromptChars < 1 || maxLoras < 0 || maxFps < 1) {
            throw new IllegalArgumentException(
                    "maxSteps, maxPromptChars and maxFps must be >= 1 and maxLoras >= 0, got " + maxSteps + ", "
                            + maxPromptChars + ", " + maxFps + ", " + maxLoras);
        }
        if (!(maxGuidance >= 0) || !(maxLoraScale >= 0)) {
            throw new IllegalArgumentException(
                    "maxGuidance and maxLoraScale must be >= 0, got " + maxGuidance + ", " + maxLoraScale);
        }
    }
}
