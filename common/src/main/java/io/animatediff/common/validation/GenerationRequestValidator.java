package io.animatediff.common.validation;

import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.GenerationRequest.Fields;
import io.animatediff.common.protocol.LoraSpec;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.OutputFormat;
import io.animatediff.common.protocol.SchedulerName;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The one validator of generation requests, run by the gateway on submission and again by the
 * worker before it runs a job (workers never trust the queue). It never throws for bad input: it
 * returns every problem at once, each naming its JSON field, the limit and what to do. A prompt
 * longer than the text encoder reads is a {@link Violation.Severity#WARNING} (the reference
 * pipelines truncate it silently; we say so).
 */
public final class GenerationRequestValidator {
    private final ValidationLimits limits;
    private final ModelCatalog catalog;
    private final TokenCounter tokens;

    public GenerationRequestValidator(ValidationLimits limits, ModelCatalog catalog, TokenCounter tokens) {
        this.limits = Objects.requireNonNull(limits, "limits");
        this.catalog = Objects.requireNonNull(catalog, "catalog");
        this.tokens = Objects.requireNonNull(tokens, "tokens");
    }

    public ValidationLimits limits() {
        return limits;
    }

    /**
     * Checks a request.
     *
     * @param request the request; null is reported as a violation
     * @param maxFrames the most frames the request's motion module supports (its position
     *     encoding length: 24 for v1 checkpoints, 32 for v2/v3)
     * @return errors and warnings, empty when the request is valid
     */
    public List<Violation> validate(GenerationRequest request, int maxFrames) {
        if (maxFrames < 1) {
            throw new IllegalArgumentException("maxFrames must be >= 1, got " + maxFrames);
        }
        List<Violation> out = new ArrayList<>();
        if (request == null) {
            out.add(Violation.error(
                    "",
                    "the request body is missing: send a JSON object with at least prompt,"
                            + " base_model and motion_module"));
            return out;
        }
        // 1. text
        prompt(out, Fields.PROMPT, request.prompt(), true);
        prompt(out, Fields.NEGATIVE_PROMPT, request.negativePrompt(), false);
        // 2. models
        Checks.model(out, Fields.BASE_MODEL, request.baseModel(), ModelKind.BASE, catalog);
        boolean motionKnown =
                Checks.model(out, Fields.MOTION_MODULE, request.motionModule(), ModelKind.MOTION, catalog);
        loras(out, Fields.LORAS, request.loras(), ModelKind.LORA);
        loras(out, Fields.MOTION_LORAS, request.motionLoras(), ModelKind.MOTION_LORA);
        // 3. shape
        String module = motionKnown
                ? " (motion module '" + request.motionModule() + "' encodes " + maxFrames + " positions)"
                : "";
        Checks.intRange(out, Fields.NUM_FRAMES, request.numFrames(), 1, maxFrames, module);
        Checks.size(out, Fields.WIDTH, request.width(), limits.minSize(), limits.maxSize(), limits.sizeMultiple());
        Checks.size(out, Fields.HEIGHT, request.height(), limits.minSize(), limits.maxSize(), limits.sizeMultiple());
        // 4. sampling
        Checks.intRange(out, Fields.NUM_INFERENCE_STEPS, request.numInferenceSteps(), 1, limits.maxSteps(), "");
        Checks.doubleRange(out, Fields.GUIDANCE_SCALE, request.guidanceScale(), 0.0, limits.maxGuidance());
        if (SchedulerName.find(request.scheduler()).isEmpty()) {
            out.add(Violation.error(
                    Fields.SCHEDULER,
                    "scheduler '" + Checks.abbreviate(request.scheduler()) + "' is unknown: use one of "
                            + SchedulerName.names()));
        }
        // 5. output
        outputFormats(out, request.outputFormats());
        Checks.intRange(out, Fields.FPS, request.fps(), 1, limits.maxFps(), "");
        return out;
    }

    private void prompt(List<Violation> out, String field, String text, boolean required) {
        if (required && text.isBlank()) {
            out.add(Violation.error(field, field + " is blank: describe what the animation should show"));
            return;
        }
        if (text.length() > limits.maxPromptChars()) {
            out.add(Violation.error(
                    field,
                    field + " has " + text.length() + " characters, the limit is " + limits.maxPromptChars()
                            + ": shorten it"));
            return;
        }
        if (text.isEmpty()) {
            return;
        }
        int count = tokens.countTokens(text);
        if (count > tokens.maxTokens()) {
            out.add(Violation.warning(
                    field,
                    field + " is " + count + " tokens, the text encoder reads " + tokens.maxTokens()
                            + " and ignores the rest: shorten it to keep every word"));
        }
    }

    private void loras(List<Violation> out, String field, List<LoraSpec> loras, ModelKind kind) {
        if (loras.size() > limits.maxLoras()) {
            out.add(Violation.error(
                    field,
                    field + " lists " + loras.size() + " entries, the limit is " + limits.maxLoras() + ": merge fewer "
                            + Checks.kindText(kind) + "s"));
        }
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < loras.size(); i++) {
            LoraSpec lora = loras.get(i);
            String entry = field + "[" + i + "]";
            Checks.model(out, entry + ".name", lora.name(), kind, catalog);
            Integer first = seen.putIfAbsent(lora.name(), i);
            if (first != null && !lora.name().isBlank()) {
                out.add(Violation.error(
                        entry + ".name",
                        entry + ".name '" + lora.name() + "' is also at " + field + "[" + first
                                + "]: use one entry with the combined scale"));
            }
            double max = limits.maxLoraScale();
            if (!(Math.abs(lora.scale()) <= max)) {
                out.add(Violation.error(
                        entry + ".scale",
                        entry + ".scale is " + lora.scale() + ", allowed " + -max + " to " + max
                                + ": pass a scale in that range"));
            }
        }
    }

    private static void outputFormats(List<Violation> out, List<String> formats) {
        if (formats.isEmpty()) {
            out.add(Violation.error(
                    Fields.OUTPUT_FORMATS, "output_formats is empty: ask for at least one of " + OutputFormat.names()));
            return;
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < formats.size(); i++) {
            String f = formats.get(i);
            String entry = Fields.OUTPUT_FORMATS + "[" + i + "]";
            if (OutputFormat.find(f).isEmpty()) {
                out.add(Violation.error(
                        entry,
                        entry + " '" + Checks.abbreviate(f) + "' is unknown: use one of " + OutputFormat.names()));
            } else if (!seen.add(f)) {
                out.add(Violation.error(entry, entry + " '" + f + "' is listed twice: list each format once"));
            }
        }
    }
}
