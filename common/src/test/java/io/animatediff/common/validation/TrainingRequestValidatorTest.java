package io.animatediff.common.validation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.TrainingRequest;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainingRequestValidatorTest {
    static final TrainingRequestValidator VALIDATOR =
            new TrainingRequestValidator(GenerationRequestValidatorTest.CATALOG);

    static TrainingRequest valid(ModelKind kind) {
        return TrainingRequest.of(kind, "s3://animatediff/datasets/clips/", "sd15", "mm-v2", "my-motion");
    }

    static List<String> fields(TrainingRequest r) {
        return VALIDATOR.validate(r, 32).stream().map(Violation::field).toList();
    }

    @Test
    void validRequestsPass() {
        assertEquals(List.of(), fields(valid(ModelKind.MOTION)));
        assertEquals(List.of(), fields(valid(ModelKind.MOTION_LORA)));
        // a motion module may start from zero-initialised outputs
        assertEquals(
                List.of(), fields(TrainingRequest.of(ModelKind.MOTION, "s3://animatediff/d/", "sd15", "", "fresh")));
    }

    @Test
    void eachRuleNamesItsField() {
        assertEquals(
                List.of("kind"),
                fields(TrainingRequest.of(ModelKind.BASE, "s3://animatediff/d/", "sd15", "mm-v2", "x")));
        assertEquals(
                List.of("dataset_uri"),
                fields(TrainingRequest.of(ModelKind.MOTION, "https://evil.example/x", "sd15", "mm-v2", "x")));
        assertEquals(
                List.of("dataset_uri"),
                fields(TrainingRequest.of(ModelKind.MOTION, "s3://animatediff/../x", "sd15", "mm-v2", "x")));
        assertEquals(
                List.of("dataset_uri"),
                fields(TrainingRequest.of(ModelKind.MOTION, "s3://A_B/x", "sd15", "mm-v2", "x")));
        assertEquals(
                List.of("base_model"),
                fields(TrainingRequest.of(ModelKind.MOTION, "s3://animatediff/d/", "nope", "mm-v2", "x")));
        assertEquals(
                List.of("motion_module"),
                fields(TrainingRequest.of(ModelKind.MOTION_LORA, "s3://animatediff/d/", "sd15", "", "x")));
        assertEquals(
                List.of("output_name"),
                fields(TrainingRequest.of(ModelKind.MOTION, "s3://animatediff/d/", "sd15", "mm-v2", "Bad Name")));
        assertEquals(List.of("max_train_steps"), fields(valid(ModelKind.MOTION).withMaxTrainSteps(0)));
        List<Violation> all = VALIDATOR.validate(valid(ModelKind.MOTION), 8);
        assertEquals(List.of("num_frames"), all.stream().map(Violation::field).toList());
        assertTrue(all.get(0).message().contains("16"), all.toString());
    }
}
