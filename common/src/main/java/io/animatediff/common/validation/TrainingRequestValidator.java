package io.animatediff.common.validation;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ModelNames;
import io.animatediff.common.protocol.TrainingRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Validator of training requests (a first cut with fixed limits), shared by gateway and trainer.
 * Like {@link GenerationRequestValidator} it never throws for bad input and names every field.
 */
public final class TrainingRequestValidator {
    /** Largest number of optimizer steps. */
    public static final int MAX_TRAIN_STEPS = 1_000_000;
    /** Largest batch of clips per step. */
    public static final int MAX_BATCH_SIZE = 64;
    /** Largest LoRA rank. */
    public static final int MAX_LORA_RANK = 256;

    private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");

    private final ModelCatalog catalog;

    public TrainingRequestValidator(ModelCatalog catalog) {
        this.catalog = Objects.requireNonNull(catalog, "catalog");
    }

    /**
     * Checks a request.
     *
     * @param request the request; null is reported as a violation
     * @param maxFrames the most frames the motion module trained can encode (32 for v2/v3 layouts)
     */
    public List<Violation> validate(TrainingRequest request, int maxFrames) {
        if (maxFrames < 1) {
            throw new IllegalArgumentException("maxFrames must be >= 1, got " + maxFrames);
        }
        List<Violation> out = new ArrayList<>();
        if (request == null) {
            out.add(Violation.error(
                    "",
                    "the request body is missing: send a JSON object with at least kind,"
                            + " dataset_uri, base_model and output_name"));
            return out;
        }
        ModelKind kind = ModelKind.find(request.kind()).orElse(null);
        if (kind != ModelKind.MOTION && kind != ModelKind.MOTION_LORA) {
            out.add(Violation.error(
                    "kind",
                    "kind '" + Checks.abbreviate(request.kind()) + "' cannot be trained: use motion or motion-lora"));
        }
        datasetUri(out, request.datasetUri());
        Checks.model(out, "base_model", request.baseModel(), ModelKind.BASE, catalog);
        if (kind == ModelKind.MOTION_LORA || !request.motionModule().isEmpty()) {
            Checks.model(out, "motion_module", request.motionModule(), ModelKind.MOTION, catalog);
        }
        if (!ModelNames.isValid(request.outputName())) {
            out.add(Violation.error(
                    "output_name",
                    "output_name '" + Checks.abbreviate(request.outputName()) + "' is not a valid model name: use "
                            + ModelNames.rule()));
        }
        Checks.intRange(out, "max_train_steps", request.maxTrainSteps(), 1, MAX_TRAIN_STEPS, "");
        Checks.intRange(out, "train_batch_size", request.trainBatchSize(), 1, MAX_BATCH_SIZE, "");
        if (!(request.learningRate() > 0 && request.learningRate() <= 1)) {
            out.add(Violation.error(
                    "learning_rate",
                    "learning_rate is " + request.learningRate() + ", allowed above 0 up to 1 (1e-4 is usual)"
                            + ": pass a value in that range"));
        }
        Checks.doubleRange(out, "adam_weight_decay", request.adamWeightDecay(), 0.0, 1.0);
        if (!(request.maxGradNorm() > 0 && request.maxGradNorm() <= 1000)) {
            out.add(Violation.error(
                    "max_grad_norm",
                    "max_grad_norm is " + request.maxGradNorm() + ", allowed above 0 up to 1000: pass a value"
                            + " in that range"));
        }
        Checks.intRange(out, "num_frames", request.numFrames(), 1, maxFrames, " (the motion module's positions)");
        Checks.intRange(out, "sample_stride", request.sampleStride(), 1, 64, "");
        Checks.size(out, "resolution", request.resolution(), 64, 1024, 8);
        Checks.doubleRange(out, "caption_dropout", request.captionDropout(), 0.0, 1.0);
        Checks.intRange(out, "lora_rank", request.loraRank(), 1, MAX_LORA_RANK, "");
        Checks.intRange(out, "checkpointing_steps", request.checkpointingSteps(), 1, MAX_TRAIN_STEPS, "");
        return out;
    }

    private static void datasetUri(List<Violation> out, String uri) {
        String what = "dataset_uri '" + Checks.abbreviate(uri) + "'";
        if (!uri.startsWith("s3://")) {
            out.add(Violation.error(
                    "dataset_uri",
                    what + " is not an s3:// URI: upload the clips to the object store and pass"
                            + " s3://<bucket>/<prefix>/"));
            return;
        }
        String rest = uri.substring("s3://".length());
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1);
        if (!BUCKET.matcher(bucket).matches()) {
            out.add(Violation.error(
                    "dataset_uri",
                    what + " names an invalid bucket '" + bucket + "': use 3-63 characters of a-z, 0-9, '.', '-'"));
        }
        for (String segment : prefix.split("/", -1)) {
            if (segment.equals("..") || segment.equals(".")) {
                out.add(Violation.error(
                        "dataset_uri", what + " has a '" + segment + "' path segment: pass a plain key prefix"));
                return;
            }
        }
    }
}
