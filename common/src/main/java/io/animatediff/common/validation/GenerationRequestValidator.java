package io.animatediff.common.validation;

import io.animatediff.common.protocol.ContextOptions;
import io.animatediff.common.protocol.FreeInitOptions;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.GenerationRequest.Fields;
import io.animatediff.common.protocol.LoraSpec;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.OutputFormat;
import io.animatediff.common.protocol.SchedulerName;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
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
    /** Most frames one request may have with context windows (memory grows linearly in frames). */
    public static final int MAX_FRAMES_WITH_CONTEXT = 1024;
    /**
     * Largest video-to-video input (decoded bytes): it travels base64-encoded (4/3 larger) inside
     * the job message, which must stay under Kafka's default 1 MB message limit.
     */
    public static final int MAX_VIDEO_BYTES = 640 * 1024;
    /** The LCM schedule is a subset of its 50 distillation steps. */
    public static final int MAX_LCM_STEPS = 50;
    /** timestep_spacing values. */
    public static final List<String> TIMESTEP_SPACINGS = List.of("leading", "linspace", "trailing");

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
        prompt(out, Fields.PROMPT, request.prompt(), request.promptMap().isEmpty());
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
        if (request.context() == null) {
            Checks.intRange(
                    out,
                    Fields.NUM_FRAMES,
                    request.numFrames(),
                    1,
                    maxFrames,
                    module + (request.numFrames() > maxFrames ? " (send context for longer videos)" : ""));
        } else {
            Checks.intRange(
                    out, Fields.NUM_FRAMES, request.numFrames(), 1, MAX_FRAMES_WITH_CONTEXT, " (with context windows)");
        }
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
        if (SchedulerName.LCM.json().equals(request.scheduler()) && request.numInferenceSteps() > MAX_LCM_STEPS) {
            out.add(Violation.error(
                    Fields.NUM_INFERENCE_STEPS,
                    "num_inference_steps is " + request.numInferenceSteps() + ", the lcm scheduler takes at most "
                            + MAX_LCM_STEPS + " (its distillation schedule): AnimateLCM uses 4 to 8"));
        }
        if (request.timestepSpacing() != null && !TIMESTEP_SPACINGS.contains(request.timestepSpacing())) {
            out.add(Violation.error(
                    Fields.TIMESTEP_SPACING,
                    "timestep_spacing '" + Checks.abbreviate(request.timestepSpacing()) + "' is unknown: use one of "
                            + TIMESTEP_SPACINGS + " (AnimateDiff-Lightning: euler with trailing)"));
        }
        // 5. generation features
        promptMap(out, request);
        Checks.doubleRange(out, Fields.MOTION_SCALE, request.motionScale(), 0.0, 10.0);
        context(out, request.context(), request.numFrames(), maxFrames);
        video(out, request);
        freeInit(out, request.freeInit());
        // 6. output
        outputFormats(out, request.outputFormats());
        Checks.intRange(out, Fields.FPS, request.fps(), 1, limits.maxFps(), "");
        return out;
    }

    private void promptMap(List<Violation> out, GenerationRequest r) {
        if (r.promptMap().isEmpty()) {
            return;
        }
        if (!r.prompt().isBlank()) {
            out.add(Violation.warning(
                    Fields.PROMPT, "prompt is ignored when prompt_map is given: put its text in prompt_map[0]"));
        }
        if (!r.promptMap().containsKey(0)) {
            out.add(Violation.error(
                    Fields.PROMPT_MAP,
                    "prompt_map has no entry for frame 0 (key frames "
                            + r.promptMap().keySet() + "): give frame 0 its prompt"));
        }
        for (Map.Entry<Integer, String> e : r.promptMap().entrySet()) {
            String entry = Fields.PROMPT_MAP + "[" + e.getKey() + "]";
            if (e.getKey() == null || e.getKey() < 0 || e.getKey() >= r.numFrames()) {
                out.add(Violation.error(
                        entry,
                        entry + ": key frame " + e.getKey() + " is outside [0, num_frames - 1 = " + (r.numFrames() - 1)
                                + "]"));
            }
            prompt(out, entry, e.getValue() == null ? "" : e.getValue(), true);
        }
    }

    private static void context(List<Violation> out, ContextOptions c, int numFrames, int maxFrames) {
        if (c == null) {
            return;
        }
        String f = Fields.CONTEXT;
        Checks.intRange(
                out,
                f + ".length",
                c.length(),
                1,
                maxFrames,
                " (the motion module encodes " + maxFrames + " positions)");
        Checks.intRange(out, f + ".overlap", c.overlap(), 0, Math.max(0, c.length() - 1), " (below context.length)");
        Checks.intRange(out, f + ".stride", c.stride(), 1, 8, "");
        if (!ContextOptions.SCHEDULES.contains(c.schedule())) {
            out.add(Violation.error(
                    f + ".schedule",
                    f + ".schedule '" + Checks.abbreviate(c.schedule()) + "' is unknown: use one of "
                            + ContextOptions.SCHEDULES));
        }
        if (!ContextOptions.WEIGHTINGS.contains(c.weighting())) {
            out.add(Violation.error(
                    f + ".weighting",
                    f + ".weighting '" + Checks.abbreviate(c.weighting()) + "' is unknown: use one of "
                            + ContextOptions.WEIGHTINGS));
        }
        if (c.closedLoop() && !"looped".equals(c.schedule())) {
            out.add(Violation.error(
                    f + ".closed_loop",
                    f + ".closed_loop needs schedule 'looped' (windows must wrap from the last frame to the first)"));
        }
        if (c.closedLoop() && numFrames <= c.length()) {
            out.add(Violation.error(
                    f + ".closed_loop",
                    f + ".closed_loop needs num_frames (" + numFrames + ") above context.length (" + c.length()
                            + "): a loop is closed by windows that wrap around"));
        }
    }

    private static void video(List<Violation> out, GenerationRequest r) {
        if (r.video() == null) {
            if (r.strength() != GenerationRequest.DEFAULT_STRENGTH) {
                out.add(Violation.error(
                        Fields.STRENGTH,
                        "strength applies to video-to-video only: send a video or leave strength out"));
            }
            return;
        }
        Checks.doubleRange(out, Fields.STRENGTH, r.strength(), 0.0, 1.0);
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(r.video());
        } catch (IllegalArgumentException e) {
            out.add(Violation.error(
                    Fields.VIDEO,
                    "video is not valid base64 (" + e.getMessage() + "): send the GIF or MP4 file base64-encoded"));
            return;
        }
        if (bytes.length > MAX_VIDEO_BYTES) {
            out.add(Violation.error(
                    Fields.VIDEO,
                    "video is " + bytes.length + " bytes, the limit is " + MAX_VIDEO_BYTES
                            + ": send fewer or smaller frames"));
        } else if (!isGif(bytes) && !isMp4(bytes)) {
            out.add(Violation.error(Fields.VIDEO, "video is neither a GIF nor an MP4 file: send one of those"));
        }
    }

    private static boolean isGif(byte[] b) {
        return b.length >= 6 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F' && b[3] == '8' && b[5] == 'a';
    }

    private static boolean isMp4(byte[] b) {
        if (b.length < 8) {
            return false;
        }
        String box = new String(b, 4, 4, StandardCharsets.ISO_8859_1);
        return List.of("ftyp", "moov", "mdat", "free", "skip", "wide").contains(box);
    }

    private static void freeInit(List<Violation> out, FreeInitOptions f) {
        if (f == null) {
            return;
        }
        String p = Fields.FREE_INIT;
        Checks.intRange(out, p + ".num_iters", f.numIters(), 1, 10, " (each iteration repeats the denoising loop)");
        if (!FreeInitOptions.METHODS.contains(f.method())) {
            out.add(Violation.error(
                    p + ".method",
                    p + ".method '" + Checks.abbreviate(f.method()) + "' is unknown: use one of "
                            + FreeInitOptions.METHODS));
        }
        Checks.intRange(out, p + ".order", f.order(), 1, 16, "");
        stopFrequency(out, p + ".spatial_stop_frequency", f.spatialStopFrequency());
        stopFrequency(out, p + ".temporal_stop_frequency", f.temporalStopFrequency());
    }

    private static void stopFrequency(List<Violation> out, String field, double v) {
        if (!(v > 0) || v > 1) {
            out.add(Violation.error(
                    field, field + " is " + v + ", allowed (0, 1]: pass a normalised frequency such as 0.25"));
        }
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
