package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.ContextOptions;
import io.animatediff.common.protocol.FailureCode;
import io.animatediff.common.protocol.FreeInitOptions;
import io.animatediff.common.protocol.GenerationRequest;
import io.animatediff.common.protocol.JobEvent;
import io.animatediff.common.protocol.JobEventType;
import io.animatediff.common.protocol.ResultObject;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.pipeline.AnimationParams;
import io.animatediff.engine.pipeline.AnimationPipeline;
import io.animatediff.engine.pipeline.MemoryPlan;
import io.animatediff.engine.pipeline.StepListener;
import io.animatediff.engine.weights.SafetensorsFile;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The generation features through the real broker, store and worker: JobRunner maps every request
 * field to the engine (context windows, prompt travel, motion scale, FreeInit, trailing Euler,
 * video-to-video from a base64 GIF), the worker's validator refuses what the module cannot do and
 * its memory budget refuses, before running it, a job predicted not to fit.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JobRunnerFeaturesTest {
    /**
     * Every 64x64 job here is predicted far below it; the 128x128x16 CFG job above it as one batch-2
     * UNet call (~123 MiB with what malloc keeps) and below it with the guidance halves split (~77
     * MiB); the 1024x1024x16 job far above.
     */
    private static final long MEMORY_BUDGET = 80L << 20;

    private FleetFixture fleet;

    @BeforeAll
    void start() throws Exception {
        fleet = new FleetFixture();
        fleet.startWorker("features", b -> b.healthPort(0).memoryBudgetBytes(MEMORY_BUDGET));
    }

    @AfterAll
    void stop() throws Exception {
        fleet.close();
    }

    private JobEvent run(GenerationRequest request) throws Exception {
        List<JobEvent> events = fleet.awaitTerminal(fleet.submit(request).jobId());
        return events.get(events.size() - 1);
    }

    private byte[] gif(JobEvent end) throws Exception {
        assertEquals(JobEventType.SUCCEEDED, end.type(), String.valueOf(end.failure()));
        ResultObject r = end.results().get(0);
        assertEquals("gif", r.format());
        return fleet.store.getBytes(r.key());
    }

    private static int frameCount(byte[] gif) throws Exception {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(gif))) {
            ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
            reader.setInput(in);
            int n = reader.getNumImages(true);
            reader.dispose();
            return n;
        }
    }

    @Test
    void longLoopWithPromptTravelFreeInitAndTrailingEulerSucceeds() throws Exception {
        GenerationRequest request = FleetFixture.tinyRequest()
                .prompt("")
                .promptMap(Map.of(0, "a red circle", 10, "a blue square"))
                .numFrames(20)
                .context(new ContextOptions(8, 2, 1, "looped", "pyramid", true))
                .motionScale(1.2)
                .freeInit(new FreeInitOptions(2, "butterworth", 4, 0.25, 0.25, true))
                .scheduler("euler")
                .timestepSpacing("trailing")
                .guidanceScale(1.0)
                .build();
        assertEquals(20, frameCount(gif(run(request))));
    }

    @Test
    void videoToVideoFromABase64Gif() throws Exception {
        byte[] input = gif(run(FleetFixture.tinyRequest().build()));
        String video = Base64.getEncoder().encodeToString(input);
        JobEvent end = run(FleetFixture.tinyRequest()
                .video(video)
                .strength(0.5)
                .scheduler("lcm")
                .guidanceScale(1.5)
                .build());
        assertEquals(4, frameCount(gif(end)));
        // more frames than the video has: refused by the engine with what to do
        JobEvent tooMany =
                run(FleetFixture.tinyRequest().video(video).numFrames(8).build());
        assertEquals(JobEventType.FAILED, tooMany.type());
        assertEquals(FailureCode.INVALID_REQUEST, tooMany.failure().code());
        assertTrue(
                tooMany.failure().reason().contains("at most 4 frames"),
                tooMany.failure().reason());
    }

    @Test
    void moreFramesThanTheModuleWithoutContextIsRefused() throws Exception {
        JobEvent end = run(FleetFixture.tinyRequest().numFrames(48).build());
        assertEquals(JobEventType.FAILED, end.type());
        assertEquals(FailureCode.INVALID_REQUEST, end.failure().code());
        assertTrue(end.failure().reason().contains("context"), end.failure().reason());
    }

    @Test
    void aJobAboveTheBudgetRunsWithTheGuidanceSplitAndGivesTheUnsplitOutput() throws Exception {
        GenerationRequest request = FleetFixture.tinyRequest()
                .width(128)
                .height(128)
                .numFrames(16)
                .negativePrompt("blurry")
                .outputFormats(List.of("frames"))
                .build();
        float[] expected;
        Path dir = Files.createTempDirectory("split-reference");
        try (AnimateDiffModel model = ModelLoader.load(
                BuiltinModels.write(dir).resolve("base"),
                dir.resolve(BuiltinModels.MOTION_FILE),
                MotionModuleConfig.MotionNorm.OFFICIAL,
                List.of())) {
            MemoryPlan.Job job = MemoryPlan.Job.of(model, 128, 128, 16, 0, true, 1);
            MemoryPlan.Estimate whole = MemoryPlan.predict(job);
            MemoryPlan.Fit fit = MemoryPlan.fit(job, MEMORY_BUDGET);
            assertTrue(whole.peakBytes() > MEMORY_BUDGET, "refused before the split: " + whole.describe());
            assertTrue(fit.fits() && fit.job().guidanceSplit(), fit.toString());
            // the unsplit output, computed here as the worker would without a budget
            AnimationParams params = AnimationParams.builder()
                    .prompt(request.prompt())
                    .negativePrompt(request.negativePrompt())
                    .frames(16)
                    .size(128, 128)
                    .steps(request.numInferenceSteps())
                    .guidanceScale(request.guidanceScale())
                    .seed(request.seed().bits())
                    .scheduler(request.scheduler())
                    .motionScale(request.motionScale())
                    .timestepSpacing(request.timestepSpacing())
                    .build();
            expected = new AnimationPipeline(model)
                    .run(params, StepListener.NONE, true)
                    .frames()
                    .toFloatCHW();
        }
        JobEvent end = run(request);
        assertEquals(JobEventType.SUCCEEDED, end.type(), String.valueOf(end.failure()));
        Path frames = dir.resolve("frames.safetensors");
        Files.write(frames, fleet.store.getBytes(end.results().get(0).key()));
        float[] actual;
        try (SafetensorsFile f = SafetensorsFile.open(frames)) {
            actual = f.loadFloats("frames");
        }
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            // 8-bit frames: equal (a split that moved a latent by 1e-6 could flip one level)
            assertTrue(
                    Math.abs(actual[i] - expected[i]) <= 1.0 / 255 + 1e-6,
                    "value " + i + ": split " + actual[i] + " vs unsplit " + expected[i]);
        }
    }

    @Test
    void aJobPredictedAboveTheMemoryBudgetFailsBeforeItRunsWithWhatToChange() throws Exception {
        // tiny model at 1024x1024, 16 frames, CFG: the UNet alone holds GBs of activations
        List<JobEvent> events = fleet.awaitTerminal(fleet.submit(FleetFixture.tinyRequest()
                        .width(1024)
                        .height(1024)
                        .numFrames(16)
                        .build())
                .jobId());
        JobEvent end = events.get(events.size() - 1);
        assertEquals(JobEventType.FAILED, end.type());
        assertEquals(FailureCode.OUT_OF_MEMORY, end.failure().code());
        String reason = end.failure().reason();
        assertTrue(reason.contains("budget of " + MEMORY_BUDGET + " bytes"), reason);
        assertTrue(reason.contains("ANIMATEDIFF_MEMORY_BUDGET_BYTES"), reason);
        assertTrue(reason.contains("fewer frames") && reason.contains("smaller width and height"), reason);
        // refused with the split plan's prediction: the split was tried and is not enough
        assertTrue(reason.contains("two guidance halves run as two UNet calls"), reason);
        long predicted = Long.parseLong(reason.replaceAll(".*predicted to need (\\d+) bytes.*", "$1"));
        assertTrue(predicted > MEMORY_BUDGET, reason);
        assertTrue(
                events.stream().noneMatch(e -> e.type() == JobEventType.PROGRESS),
                "refused before the first step: " + events);
    }
}
