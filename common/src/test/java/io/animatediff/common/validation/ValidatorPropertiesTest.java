package io.animatediff.common.validation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.LoraSpec;
import io.animatediff.common.protocol.OutputFormat;
import io.animatediff.common.protocol.SchedulerName;
import java.util.List;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Random, mostly malformed requests: the validator never throws and only names real fields. */
class ValidatorPropertiesTest {
    private static final Pattern REAL_FIELD =
            Pattern.compile("prompt|negative_prompt|base_model|motion_module|loras|motion_loras|num_frames|width|height"
                    + "|num_inference_steps|guidance_scale|scheduler|output_formats|fps"
                    + "|(motion_)?loras\\[\\d+]\\.(name|scale)|output_formats\\[\\d+]");

    @Provide
    Arbitrary<GenerationRequest> requests() {
        Arbitrary<String> text = Arbitraries.oneOf(
                Arbitraries.strings().ofMaxLength(50),
                Arbitraries.strings().withChars(' ', 'a', '\t').ofMaxLength(5000),
                Arbitraries.of("", "   ", "a corgi", "x".repeat(4001)));
        Arbitrary<String> names = Arbitraries.oneOf(
                Arbitraries.of("sd15", "mm-v2", "detail", "zoom-in", "", "SD15", "../x", "nope", "a".repeat(70)),
                Arbitraries.strings().ofMaxLength(12));
        Arbitrary<Integer> ints = Arbitraries.oneOf(
                Arbitraries.integers(),
                Arbitraries.integers().between(-10, 2000),
                Arbitraries.of(0, 1, 8, 16, 64, 512, 1024, Integer.MIN_VALUE, Integer.MAX_VALUE));
        Arbitrary<Double> doubles = Arbitraries.oneOf(
                Arbitraries.doubles(),
                Arbitraries.doubles().between(-50, 50),
                Arbitraries.of(Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0, 7.5));
        Arbitrary<LoraSpec> lora = Combinators.combine(names, doubles).as(LoraSpec::new);
        Arbitrary<List<LoraSpec>> loras = lora.list().ofMaxSize(12);
        Arbitrary<List<String>> formats = Arbitraries.oneOf(
                        Arbitraries.of("gif", "mp4", "png", "frames", "webp", "", "GIF"),
                        Arbitraries.strings().ofMaxLength(6))
                .list()
                .ofMaxSize(6);
        Arbitrary<String> scheduler = Arbitraries.oneOf(
                Arbitraries.of("ddim", "euler", "DDIM", ""),
                Arbitraries.strings().ofMaxLength(8));
        Arbitrary<GenerationRequest.Builder> step1 = Combinators.combine(text, text, names, names, loras, loras)
                .as((p, n, b, m, l, ml) -> GenerationRequest.builder()
                        .prompt(p)
                        .negativePrompt(n)
                        .baseModel(b)
                        .motionModule(m)
                        .loras(l)
                        .motionLoras(ml));
        return Combinators.combine(step1, ints, ints, ints, ints, doubles, scheduler, formats)
                .as((builder, frames, w, h, steps, g, s, f) -> builder.numFrames(frames)
                        .width(w)
                        .height(h)
                        .numInferenceSteps(steps)
                        .guidanceScale(g)
                        .scheduler(s)
                        .outputFormats(f))
                .flatMap(builder -> ints.map(fps -> builder.fps(fps).build()));
    }

    @Property(tries = 500)
    void neverThrowsAndNamesOnlyRealFields(@ForAll("requests") GenerationRequest request) {
        List<Violation> violations = GenerationRequestValidatorTest.VALIDATOR.validate(request, 32);
        for (Violation v : violations) {
            assertTrue(REAL_FIELD.matcher(v.field()).matches(), "not a request field: " + v);
            assertFalse(v.message().isBlank(), v.toString());
        }
        if (!Violation.hasErrors(violations)) {
            // an accepted request really is within every limit
            assertTrue(request.width() % 8 == 0 && request.width() >= 64 && request.width() <= 1024);
            assertTrue(request.height() % 8 == 0 && request.height() >= 64 && request.height() <= 1024);
            assertTrue(request.numFrames() >= 1 && request.numFrames() <= 32);
            assertTrue(request.numInferenceSteps() >= 1 && request.numInferenceSteps() <= 150);
            assertTrue(request.guidanceScale() >= 0 && request.guidanceScale() <= 30);
            assertTrue(request.fps() >= 1 && request.fps() <= 60);
            assertFalse(request.prompt().isBlank());
            assertTrue(SchedulerName.find(request.scheduler()).isPresent());
            assertTrue(request.outputFormats().stream()
                    .allMatch(f -> OutputFormat.find(f).isPresent()));
            assertTrue(request.loras().size() <= 8);
            assertTrue(request.loras().stream().allMatch(l -> Math.abs(l.scale()) <= 4));
            assertEquals("sd15", request.baseModel());
        }
    }

    @Property(tries = 300)
    void numericFieldsAreReportedExactlyWhenOutOfRange(
            @ForAll("sizes") int width,
            @ForAll("sizes") int height,
            @ForAll("small") int frames,
            @ForAll("small") int steps,
            @ForAll("guidance") double guidance,
            @ForAll("small") int fps) {
        GenerationRequest request = GenerationRequestValidatorTest.valid().toBuilder()
                .width(width)
                .height(height)
                .numFrames(frames)
                .numInferenceSteps(steps)
                .guidanceScale(guidance)
                .fps(fps)
                .build();
        java.util.Set<String> expected = new java.util.TreeSet<>();
        if (width % 8 != 0 || width < 64 || width > 1024) {
            expected.add("width");
        }
        if (height % 8 != 0 || height < 64 || height > 1024) {
            expected.add("height");
        }
        if (frames < 1 || frames > 32) {
            expected.add("num_frames");
        }
        if (steps < 1 || steps > 150) {
            expected.add("num_inference_steps");
        }
        if (!(guidance >= 0 && guidance <= 30)) {
            expected.add("guidance_scale");
        }
        if (fps < 1 || fps > 60) {
            expected.add("fps");
        }
        List<Violation> violations = GenerationRequestValidatorTest.VALIDATOR.validate(request, 32);
        assertEquals(
                expected,
                new java.util.TreeSet<>(
                        violations.stream().map(Violation::field).toList()),
                violations.toString());
        assertTrue(violations.stream().allMatch(Violation::isError));
        net.jqwik.api.statistics.Statistics.label("accepted").collect(expected.isEmpty());
        // not vacuous: both outcomes occur often
        net.jqwik.api.statistics.Statistics.label("accepted").coverage(checker -> {
            checker.check(true).count(n -> n >= 20);
            checker.check(false).count(n -> n >= 20);
        });
    }

    @Provide
    Arbitrary<Integer> sizes() {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.integers().between(8, 128).map(i -> i * 8)),
                net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(-20, 1100)));
    }

    @Provide
    Arbitrary<Integer> small() {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.integers().between(1, 32)),
                net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(-2, 160)));
    }

    @Provide
    Arbitrary<Double> guidance() {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.doubles().between(0, 30)),
                net.jqwik.api.Tuple.of(1, Arbitraries.doubles().between(-5, 35)),
                net.jqwik.api.Tuple.of(1, Arbitraries.of(Double.NaN, 0.0, 30.0, Double.NEGATIVE_INFINITY)));
    }
}
