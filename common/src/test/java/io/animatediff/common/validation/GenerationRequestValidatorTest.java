package io.animatediff.common.validation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.ContextOptions;
import io.animatediff.common.protocol.FreeInitOptions;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.LoraSpec;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.Seed;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class GenerationRequestValidatorTest {
    static final ModelCatalog CATALOG = ModelCatalog.of(Map.of(
            ModelKind.BASE, Set.of("sd15"),
            ModelKind.MOTION, Set.of("mm-v2"),
            ModelKind.LORA, Set.of("detail", "style", "a", "b", "c", "d", "e", "f", "g", "h", "i"),
            ModelKind.MOTION_LORA, Set.of("zoom-in")));

    /** One token per whitespace-separated word, plus start and end tokens; CLIP reads 77. */
    static final TokenCounter WORDS = new TokenCounter() {
        @Override
        public int countTokens(String text) {
            return text.isBlank() ? 2 : text.trim().split("\\s+").length + 2;
        }

        @Override
        public int maxTokens() {
            return 77;
        }
    };

    static final GenerationRequestValidator VALIDATOR =
            new GenerationRequestValidator(ValidationLimits.DEFAULTS, CATALOG, WORDS);

    static final int MAX_FRAMES = 32;

    static GenerationRequest valid() {
        return GenerationRequest.builder()
                .prompt("a corgi surfing")
                .negativePrompt("blurry")
                .baseModel("sd15")
                .motionModule("mm-v2")
                .loras(List.of(new LoraSpec("detail", 0.7)))
                .motionLoras(List.of(new LoraSpec("zoom-in", 1.0)))
                .seed(Seed.of(42))
                .build();
    }

    static List<Violation> check(UnaryOperator<GenerationRequest.Builder> change) {
        return VALIDATOR.validate(change.apply(valid().toBuilder()).build(), MAX_FRAMES);
    }

    /** Exactly the given field is reported, as an error, and the message names the field. */
    static void assertOnlyError(List<Violation> violations, String field) {
        assertFalse(violations.isEmpty(), "expected a violation of " + field);
        for (Violation v : violations) {
            assertEquals(field, v.field(), violations.toString());
            assertTrue(v.isError(), v.toString());
            assertTrue(v.message().contains(field), "message should name the field: " + v);
        }
    }

    @Test
    void validRequestHasNoViolations() {
        assertEquals(List.of(), VALIDATOR.validate(valid(), MAX_FRAMES));
        assertEquals(List.of(), check(b -> b.width(64).height(1024).numFrames(1).numInferenceSteps(150)));
        assertEquals(
                List.of(),
                check(b -> b.guidanceScale(0).fps(60).outputFormats(List.of("gif", "mp4", "png", "frames"))));
        assertEquals(List.of(), check(b -> b.loras(List.of(new LoraSpec("detail", -4.0), new LoraSpec("style", 4.0)))));
        assertEquals(
                List.of(), check(b -> b.numFrames(MAX_FRAMES).guidanceScale(30).scheduler("euler")));
    }

    @Test
    void missingRequestBody() {
        List<Violation> v = VALIDATOR.validate(null, MAX_FRAMES);
        assertEquals(1, v.size());
        assertEquals("", v.get(0).field());
        assertTrue(v.get(0).isError());
    }

    @Test
    void promptMustNotBeBlank() {
        assertOnlyError(check(b -> b.prompt("   ")), "prompt");
        assertOnlyError(check(b -> b.prompt(null)), "prompt");
    }

    @Test
    void promptAtMost4000Characters() {
        assertEquals(List.of(), Violation.errors(check(b -> b.prompt("x".repeat(4000)))));
        List<Violation> v = check(b -> b.prompt("x".repeat(4001)));
        assertOnlyError(v, "prompt");
        assertTrue(v.get(0).message().contains("4001") && v.get(0).message().contains("4000"), v.toString());
    }

    @Test
    void negativePromptAtMost4000Characters() {
        assertOnlyError(check(b -> b.negativePrompt("y".repeat(4001))), "negative_prompt");
        assertEquals(List.of(), check(b -> b.negativePrompt("")));
    }

    @Test
    void promptTruncationIsAWarningNotAnError() {
        String long80 = String.join(" ", Collections.nCopies(80, "word"));
        List<Violation> v = check(b -> b.prompt(long80).negativePrompt(long80));
        assertEquals(2, v.size(), v.toString());
        assertFalse(Violation.hasErrors(v));
        assertEquals("prompt", v.get(0).field());
        assertEquals("negative_prompt", v.get(1).field());
        assertEquals(Violation.Severity.WARNING, v.get(0).severity());
        assertTrue(
                v.get(0).message().contains("82 tokens") && v.get(0).message().contains("77"), v.toString());
        String fits75 = String.join(" ", Collections.nCopies(75, "word")); // 77 with start/end
        assertEquals(List.of(), check(b -> b.prompt(fits75)));
    }

    @Test
    void widthMultipleOf8Within64To1024() {
        assertOnlyError(check(b -> b.width(500)), "width");
        assertOnlyError(check(b -> b.width(56)), "width");
        assertOnlyError(check(b -> b.width(1032)), "width");
        assertOnlyError(check(b -> b.width(-8)), "width");
        assertTrue(check(b -> b.width(500)).get(0).message().contains("496"), "suggests the nearest size");
    }

    @Test
    void heightMultipleOf8Within64To1024() {
        assertOnlyError(check(b -> b.height(767)), "height");
        assertOnlyError(check(b -> b.height(0)), "height");
        assertOnlyError(check(b -> b.height(2048)), "height");
    }

    @Test
    void sizeLimitsAreConfigurable() {
        GenerationRequestValidator big = new GenerationRequestValidator(
                new ValidationLimits(128, 2048, 64, 150, 30, 4000, 8, 4, 60), CATALOG, WORDS);
        assertEquals(
                List.of(),
                big.validate(valid().toBuilder().width(1536).height(2048).build(), MAX_FRAMES));
        assertOnlyError(big.validate(valid().toBuilder().width(1000).build(), MAX_FRAMES), "width");
        assertOnlyError(big.validate(valid().toBuilder().height(64).build(), MAX_FRAMES), "height");
    }

    @Test
    void framesWithinTheMotionModulesPositions() {
        assertOnlyError(check(b -> b.numFrames(0)), "num_frames");
        List<Violation> v = check(b -> b.numFrames(33));
        assertOnlyError(v, "num_frames");
        assertTrue(v.get(0).message().contains("32") && v.get(0).message().contains("mm-v2"), v.toString());
        assertOnlyError(VALIDATOR.validate(valid().toBuilder().numFrames(25).build(), 24), "num_frames");
        assertEquals(
                List.of(), VALIDATOR.validate(valid().toBuilder().numFrames(24).build(), 24));
    }

    @Test
    void steps1To150() {
        assertOnlyError(check(b -> b.numInferenceSteps(0)), "num_inference_steps");
        assertOnlyError(check(b -> b.numInferenceSteps(151)), "num_inference_steps");
    }

    @Test
    void guidance0To30() {
        assertOnlyError(check(b -> b.guidanceScale(-0.5)), "guidance_scale");
        assertOnlyError(check(b -> b.guidanceScale(30.01)), "guidance_scale");
        assertOnlyError(check(b -> b.guidanceScale(Double.NaN)), "guidance_scale");
        assertOnlyError(check(b -> b.guidanceScale(Double.POSITIVE_INFINITY)), "guidance_scale");
    }

    @Test
    void schedulerKnown() {
        List<Violation> v = check(b -> b.scheduler("pndm"));
        assertOnlyError(v, "scheduler");
        assertTrue(v.get(0).message().contains("ddim") && v.get(0).message().contains("euler"), v.toString());
    }

    @Test
    void baseModelRequiredWellFormedAndRegistered() {
        assertOnlyError(check(b -> b.baseModel("")), "base_model");
        assertOnlyError(check(b -> b.baseModel("SD15")), "base_model");
        assertOnlyError(check(b -> b.baseModel("../sd15")), "base_model");
        assertOnlyError(check(b -> b.baseModel("x".repeat(65))), "base_model");
        List<Violation> v = check(b -> b.baseModel("sdxl"));
        assertOnlyError(v, "base_model");
        assertTrue(v.get(0).message().contains("models/base/sdxl/"), v.toString());
    }

    @Test
    void motionModuleRequiredWellFormedAndRegistered() {
        assertOnlyError(check(b -> b.motionModule(null)), "motion_module");
        assertOnlyError(check(b -> b.motionModule("mm v2")), "motion_module");
        assertOnlyError(check(b -> b.motionModule("mm-v3")), "motion_module");
    }

    @Test
    void atMost8Loras() {
        List<LoraSpec> nine = List.of("a", "b", "c", "d", "e", "f", "g", "h", "i").stream()
                .map(n -> new LoraSpec(n, 0.5))
                .toList();
        assertOnlyError(check(b -> b.loras(nine)), "loras");
        assertEquals(List.of(), check(b -> b.loras(nine.subList(0, 8))));
    }

    @Test
    void loraScaleWithinPlusMinus4() {
        assertOnlyError(check(b -> b.loras(List.of(new LoraSpec("detail", 4.5)))), "loras[0].scale");
        assertOnlyError(
                check(b -> b.loras(List.of(new LoraSpec("detail", 1), new LoraSpec("style", -4.01)))),
                "loras[1].scale");
        assertOnlyError(check(b -> b.loras(List.of(new LoraSpec("detail", Double.NaN)))), "loras[0].scale");
    }

    @Test
    void loraNamesWellFormedRegisteredAndUnique() {
        assertOnlyError(check(b -> b.loras(List.of(new LoraSpec("nope", 1)))), "loras[0].name");
        assertOnlyError(check(b -> b.loras(List.of(new LoraSpec("Detail!", 1)))), "loras[0].name");
        assertOnlyError(check(b -> b.loras(List.of(new LoraSpec("", 1)))), "loras[0].name");
        // a motion LoRA is not an image LoRA
        assertOnlyError(check(b -> b.loras(List.of(new LoraSpec("zoom-in", 1)))), "loras[0].name");
        assertOnlyError(
                check(b -> b.loras(List.of(new LoraSpec("detail", 1), new LoraSpec("detail", 0.5)))), "loras[1].name");
    }

    @Test
    void motionLorasCheckedLikeLoras() {
        assertOnlyError(check(b -> b.motionLoras(List.of(new LoraSpec("pan-left", 1)))), "motion_loras[0].name");
        assertOnlyError(check(b -> b.motionLoras(List.of(new LoraSpec("zoom-in", -5)))), "motion_loras[0].scale");
        List<LoraSpec> nine = Collections.nCopies(9, new LoraSpec("zoom-in", 1));
        List<Violation> v = check(b -> b.motionLoras(nine));
        assertTrue(v.stream().anyMatch(x -> x.field().equals("motion_loras")), v.toString());
    }

    @Test
    void outputFormatsKnownUniqueAndNotEmpty() {
        assertOnlyError(check(b -> b.outputFormats(List.of())), "output_formats");
        List<Violation> unknown = check(b -> b.outputFormats(List.of("gif", "webp")));
        assertOnlyError(unknown, "output_formats[1]");
        assertTrue(unknown.get(0).message().contains("mp4"), "lists the known formats");
        assertOnlyError(check(b -> b.outputFormats(List.of("gif", "gif"))), "output_formats[1]");
        assertOnlyError(check(b -> b.outputFormats(List.of("GIF"))), "output_formats[0]");
    }

    @Test
    void fps1To60() {
        assertOnlyError(check(b -> b.fps(0)), "fps");
        assertOnlyError(check(b -> b.fps(61)), "fps");
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        List<Violation> v = check(b -> b.prompt("")
                .baseModel("nope")
                .width(3)
                .numFrames(100)
                .numInferenceSteps(0)
                .guidanceScale(99)
                .scheduler("x")
                .outputFormats(List.of("bmp"))
                .fps(0));
        assertEquals(
                List.of(
                        "prompt",
                        "base_model",
                        "num_frames",
                        "width",
                        "num_inference_steps",
                        "guidance_scale",
                        "scheduler",
                        "output_formats[0]",
                        "fps"),
                v.stream().map(Violation::field).toList());
    }

    @Test
    void generationFeaturesAreAcceptedWithinTheirLimits() {
        assertEquals(
                List.of(),
                check(b -> b.numFrames(96)
                        .context(new ContextOptions(16, 4, 2, "looped", "flat", true))
                        .promptMap(Map.of(0, "a corgi", 48, "a cat"))
                        .prompt("")
                        .motionScale(1.3)
                        .freeInit(FreeInitOptions.defaults())
                        .scheduler("lcm")
                        .numInferenceSteps(6)
                        .timestepSpacing("trailing")));
        // a 1x1 GIF, base64
        assertEquals(List.of(), check(b -> b.video("R0lGODlhAQABAAAAACw=").strength(0.0)));
    }

    @Test
    void eachGenerationFeatureNamesItsField() {
        assertOnlyError(check(b -> b.numFrames(48)), "num_frames");
        assertTrue(check(b -> b.numFrames(48)).get(0).message().contains("context"));
        assertOnlyError(check(b -> b.numFrames(2000).context(ContextOptions.defaults())), "num_frames");
        assertOnlyError(
                check(b -> b.numFrames(64).context(new ContextOptions(40, 4, 1, null, null, false))), "context.length");
        assertOnlyError(
                check(b -> b.numFrames(64).context(new ContextOptions(16, 16, 1, null, null, false))),
                "context.overlap");
        assertOnlyError(
                check(b -> b.numFrames(64).context(new ContextOptions(16, 4, 1, "static", null, false))),
                "context.schedule");
        assertOnlyError(
                check(b -> b.numFrames(64).context(new ContextOptions(16, 4, 1, null, "gauss", false))),
                "context.weighting");
        assertOnlyError(
                check(b -> b.numFrames(64).context(new ContextOptions(16, 4, 1, "uniform", null, true))),
                "context.closed_loop");
        assertOnlyError(
                check(b -> b.numFrames(16).context(new ContextOptions(16, 4, 1, "looped", null, true))),
                "context.closed_loop");
        assertOnlyError(check(b -> b.prompt("").promptMap(Map.of(4, "late"))), "prompt_map");
        assertOnlyError(check(b -> b.prompt("").promptMap(Map.of(0, "a", 16, "out of range"))), "prompt_map[16]");
        assertOnlyError(check(b -> b.prompt("").promptMap(Map.of(0, " "))), "prompt_map[0]");
        List<Violation> both = check(b -> b.promptMap(Map.of(0, "a cat")));
        assertEquals(1, both.size(), both.toString());
        assertFalse(both.get(0).isError(), "a prompt beside prompt_map is a warning: " + both);
        assertEquals("prompt", both.get(0).field());
        assertOnlyError(check(b -> b.motionScale(-1)), "motion_scale");
        assertOnlyError(check(b -> b.strength(0.5)), "strength");
        assertOnlyError(check(b -> b.video("R0lGODlhAQABAAAAACw=").strength(1.5)), "strength");
        assertOnlyError(check(b -> b.video("not base64 !")), "video");
        assertOnlyError(check(b -> b.video("aGVsbG8gd29ybGQ=")), "video");
        assertOnlyError(
                check(b -> b.freeInit(new FreeInitOptions(0, null, 4, 0.25, 0.25, false))), "free_init.num_iters");
        assertOnlyError(
                check(b -> b.freeInit(new FreeInitOptions(3, "box", 4, 0.25, 0.25, false))), "free_init.method");
        assertOnlyError(
                check(b -> b.freeInit(new FreeInitOptions(3, null, 4, 0, 0.25, false))),
                "free_init.spatial_stop_frequency");
        assertOnlyError(check(b -> b.scheduler("lcm").numInferenceSteps(60)), "num_inference_steps");
        assertOnlyError(check(b -> b.timestepSpacing("even")), "timestep_spacing");
    }
}
