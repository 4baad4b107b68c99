package io.animatediff.common.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * What a user asks to train: a motion module (everything else frozen) or a MotionLoRA (base and
 * motion module frozen). Defaults follow the official {@code configs/training/v1/training.yaml}.
 * Absent JSON fields take the defaults below; ranges are checked by {@code
 * TrainingRequestValidator}.
 *
 * @param kind {@code motion} or {@code motion-lora}: what is trained and registered
 * @param datasetUri {@code s3://<bucket>/<prefix>}: clips and captions inside the fleet's object
 *     store (workers never fetch arbitrary URLs)
 * @param baseModel registered base model, frozen
 * @param motionModule registered motion module to start from (required for motion-lora; optional
 *     for motion: empty starts from zero-initialised output projections)
 * @param outputName name the result is registered under ({@code models/<kind>/<output_name>/})
 * @param maxTrainSteps optimizer steps
 * @param trainBatchSize clips per step
 * @param learningRate AdamW learning rate (constant schedule)
 * @param adamWeightDecay AdamW weight decay
 * @param maxGradNorm gradient clipping norm
 * @param numFrames frames per clip (F)
 * @param sampleStride frame stride when sampling a clip
 * @param resolution square training size in pixels after resize and centre crop
 * @param captionDropout probability of training on an empty caption
 * @param loraRank LoRA rank (motion-lora only)
 * @param checkpointingSteps write a resumable checkpoint every this many steps
 * @param seed unsigned 64-bit seed, or null until the gateway picks one
 */
public record TrainingRequest(
        @JsonProperty("kind") String kind,
        @JsonProperty("dataset_uri") String datasetUri,
        @JsonProperty("base_model") String baseModel,
        @JsonProperty("motion_module") String motionModule,
        @JsonProperty("output_name") String outputName,
        @JsonProperty("max_train_steps") int maxTrainSteps,
        @JsonProperty("train_batch_size") int trainBatchSize,
        @JsonProperty("learning_rate") double learningRate,
        @JsonProperty("adam_weight_decay") double adamWeightDecay,
        @JsonProperty("max_grad_norm") double maxGradNorm,
        @JsonProperty("num_frames") int numFrames,
        @JsonProperty("sample_stride") int sampleStride,
        @JsonProperty("resolution") int resolution,
        @JsonProperty("caption_dropout") double captionDropout,
        @JsonProperty("lora_rank") int loraRank,
        @JsonProperty("checkpointing_steps") int checkpointingSteps,
        @JsonProperty("seed") Seed seed) {

    public static final String DEFAULT_KIND = ModelKind.MOTION.json();
    public static final int DEFAULT_MAX_TRAIN_STEPS = 1000;
    public static final int DEFAULT_TRAIN_BATCH_SIZE = 4;
    public static final double DEFAULT_LEARNING_RATE = 1e-4;
    public static final double DEFAULT_ADAM_WEIGHT_DECAY = 1e-2;
    public static final double DEFAULT_MAX_GRAD_NORM = 1.0;
    public static final int DEFAULT_NUM_FRAMES = 16;
    public static final int DEFAULT_SAMPLE_STRIDE = 4;
    public static final int DEFAULT_RESOLUTION = 256;
    public static final double DEFAULT_CAPTION_DROPOUT = 0.1;
    public static final int DEFAULT_LORA_RANK = 8;
    public static final int DEFAULT_CHECKPOINTING_STEPS = 500;

    /** Every top-level JSON field name. */
    public static final List<String> FIELDS = List.of(
            "kind",
            "dataset_uri",
            "base_model",
            "motion_module",
            "output_name",
            "max_train_steps",
            "train_batch_size",
            "learning_rate",
            "adam_weight_decay",
            "max_grad_norm",
            "num_frames",
            "sample_stride",
            "resolution",
            "caption_dropout",
            "lora_rank",
            "checkpointing_steps",
            "seed");

    public TrainingRequest {
        kind = kind == null ? DEFAULT_KIND : kind;
        datasetUri = datasetUri == null ? "" : datasetUri;
        baseModel = baseModel == null ? "" : baseModel;
        motionModule = motionModule == null ? "" : motionModule;
        outputName = outputName == null ? "" : outputName;
    }

    /** JSON entry point: absent numbers take their defaults; present ones are kept as sent. */
    @JsonCreator
    static TrainingRequest fromJson(
            @JsonProperty("kind") String kind,
            @JsonProperty("dataset_uri") String datasetUri,
            @JsonProperty("base_model") String baseModel,
            @JsonProperty("motion_module") String motionModule,
            @JsonProperty("output_name") String outputName,
            @JsonProperty("max_train_steps") Integer maxTrainSteps,
            @JsonProperty("train_batch_size") Integer trainBatchSize,
            @JsonProperty("learning_rate") Double learningRate,
            @JsonProperty("adam_weight_decay") Double adamWeightDecay,
            @JsonProperty("max_grad_norm") Double maxGradNorm,
            @JsonProperty("num_frames") Integer numFrames,
            @JsonProperty("sample_stride") Integer sampleStride,
            @JsonProperty("resolution") Integer resolution,
            @JsonProperty("caption_dropout") Double captionDropout,
            @JsonProperty("lora_rank") Integer loraRank,
            @JsonProperty("checkpointing_steps") Integer checkpointingSteps,
            @JsonProperty("seed") Seed seed) {
        return new TrainingRequest(
                kind,
                datasetUri,
                baseModel,
                motionModule,
                outputName,
                maxTrainSteps == null ? DEFAULT_MAX_TRAIN_STEPS : maxTrainSteps,
                trainBatchSize == null ? DEFAULT_TRAIN_BATCH_SIZE : trainBatchSize,
                learningRate == null ? DEFAULT_LEARNING_RATE : learningRate,
                adamWeightDecay == null ? DEFAULT_ADAM_WEIGHT_DECAY : adamWeightDecay,
                maxGradNorm == null ? DEFAULT_MAX_GRAD_NORM : maxGradNorm,
                numFrames == null ? DEFAULT_NUM_FRAMES : numFrames,
                sampleStride == null ? DEFAULT_SAMPLE_STRIDE : sampleStride,
                resolution == null ? DEFAULT_RESOLUTION : resolution,
                captionDropout == null ? DEFAULT_CAPTION_DROPOUT : captionDropout,
                loraRank == null ? DEFAULT_LORA_RANK : loraRank,
                checkpointingSteps == null ? DEFAULT_CHECKPOINTING_STEPS : checkpointingSteps,
                seed);
    }

    /** A request with the defaults for everything but the names. */
    public static TrainingRequest of(
            ModelKind kind, String datasetUri, String baseModel, String motionModule, String outputName) {
        return fromJson(
                kind.json(),
                datasetUri,
                baseModel,
                motionModule,
                outputName,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null);
    }

    /** The same request with the seed fixed. */
    public TrainingRequest withSeed(Seed newSeed) {
        return new TrainingRequest(
                kind,
                datasetUri,
                baseModel,
                motionModule,
                outputName,
                maxTrainSteps,
                trainBatchSize,
                learningRate,
                adamWeightDecay,
                maxGradNorm,
                numFrames,
                sampleStride,
                resolution,
                captionDropout,
                loraRank,
                checkpointingSteps,
                newSeed);
    }

    /** The same request training for another number of steps (tests, quick runs). */
    public TrainingRequest withMaxTrainSteps(int steps) {
        return new TrainingRequest(
                kind,
                datasetUri,
                baseModel,
                motionModule,
                outputName,
                steps,
                trainBatchSize,
                learningRate,
                adamWeightDecay,
                maxGradNorm,
                numFrames,
                sampleStride,
                resolution,
                captionDropout,
                loraRank,
                checkpointingSteps,
                seed);
    }
}
