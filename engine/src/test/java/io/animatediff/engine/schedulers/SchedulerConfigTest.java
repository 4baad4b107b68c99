package io.animatediff.engine.schedulers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SchedulerConfigTest {
    /** runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json. */
    private static final String SD15 =
            "{\n  \"_class_name\": \"PNDMScheduler\",\n  \"_diffusers_version\": \"0.6.0\",\n"
                    + "  \"beta_end\": 0.012,\n  \"beta_schedule\": \"scaled_linear\",\n  \"beta_start\": 0.00085,\n"
                    + "  \"num_train_timesteps\": 1000,\n  \"set_alpha_to_one\": false,\n  \"skip_prk_steps\": true,\n"
                    + "  \"steps_offset\": 1,\n  \"trained_betas\": null,\n  \"clip_sample\": false\n}\n";

    @Test
    void readsStableDiffusionConfigIgnoringUnknownKeys(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("scheduler_config.json");
        Files.writeString(file, SD15);
        SchedulerConfig cfg = SchedulerConfig.read(file);
        assertEquals("PNDMScheduler", cfg.className());
        assertEquals(1000, cfg.numTrainTimesteps());
        assertEquals(0.00085, cfg.betaStart());
        assertEquals(0.012, cfg.betaEnd());
        assertEquals("scaled_linear", cfg.betaSchedule());
        assertNull(cfg.trainedBetas());
        assertFalse(cfg.setAlphaToOne());
        assertFalse(cfg.clipSample());
        assertEquals(1, cfg.stepsOffset());
        assertEquals("epsilon", cfg.predictionType());
        assertNull(cfg.timestepSpacing());
        // an absent timestep_spacing resolves per scheduler, as diffusers' from_config
        assertEquals("leading", Scheduler.create("ddim", cfg, 0).config().timestepSpacing());
        assertEquals("linspace", Scheduler.create("euler", cfg, 0).config().timestepSpacing());
    }

    @Test
    void absentKeysTakeDefaults() {
        SchedulerConfig cfg = SchedulerConfig.defaults();
        assertNull(cfg.className());
        assertEquals(1000, cfg.numTrainTimesteps());
        assertEquals(0.00085, cfg.betaStart());
        assertEquals(0.012, cfg.betaEnd());
        assertEquals("scaled_linear", cfg.betaSchedule());
        assertTrue(cfg.clipSample());
        assertEquals(1.0, cfg.clipSampleRange());
        assertTrue(cfg.setAlphaToOne());
        assertEquals(0, cfg.stepsOffset());
        assertEquals("linear", cfg.interpolationType());
        assertFalse(cfg.useKarrasSigmas());
        assertEquals("zero", cfg.finalSigmasType());
        assertEquals("discrete", cfg.timestepType());
        // explicit nulls count as absent
        assertEquals(cfg, SchedulerConfig.parse("{\"beta_start\": null, \"steps_offset\": null}"));
    }

    @Test
    void animateDiffDefaultIsTheOfficialInferenceYaml() {
        SchedulerConfig cfg = SchedulerConfig.animateDiffDefault();
        assertEquals("DDIMScheduler", cfg.className());
        assertEquals(0.00085, cfg.betaStart());
        assertEquals(0.012, cfg.betaEnd());
        assertEquals("linear", cfg.betaSchedule());
        assertEquals(1, cfg.stepsOffset());
        assertFalse(cfg.clipSample());
        assertTrue(cfg.setAlphaToOne());
        assertEquals("epsilon", cfg.predictionType());
    }

    @Test
    void overridesAreValidatedAndRoundTrip() {
        SchedulerConfig cfg = SchedulerConfig.animateDiffDefault().with(Map.of("prediction_type", "v_prediction"));
        assertEquals("v_prediction", cfg.predictionType());
        assertEquals(1, cfg.stepsOffset());
        Map<String, Object> json = cfg.toJsonMap();
        assertEquals("v_prediction", json.get("prediction_type"));
        assertEquals(cfg, SchedulerConfig.animateDiffDefault().with(json));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> cfg.with(Map.of("predictionType", "epsilon")));
        assertTrue(e.getMessage().contains("unknown scheduler config key \"predictionType\""), e.getMessage());
    }

    @Test
    void invalidValuesAreQuotedInErrors() {
        Map<String, String> cases = Map.of(
                "{\"beta_schedule\": \"cosine\"}", "beta_schedule = \"cosine\"",
                "{\"prediction_type\": \"noise\"}", "prediction_type = \"noise\"",
                "{\"timestep_spacing\": \"uniform\"}", "timestep_spacing = \"uniform\"",
                "{\"beta_start\": 0.5, \"beta_end\": 0.1}", "beta_start/beta_end = 0.5/0.1",
                "{\"thresholding\": true}", "thresholding = true",
                "{\"interpolation_type\": \"log_linear\"}", "interpolation_type = \"log_linear\"",
                "{\"num_train_timesteps\": 4, \"trained_betas\": [0.1, 0.2]}", "trained_betas = 2 values",
                "{\"steps_offset\": \"one\"}", "invalid scheduler config JSON",
                "[1, 2]", "invalid scheduler config JSON");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> SchedulerConfig.parse(c.getKey()), c.getKey());
            assertTrue(e.getMessage().contains(c.getValue()), c.getKey() + " -> " + e.getMessage());
        }
    }

    @Test
    void trainedBetasReplaceTheSchedule() {
        SchedulerConfig cfg =
                SchedulerConfig.parse("{\"num_train_timesteps\": 4, \"trained_betas\": [0.1, 0.2, 0.3, 0.4]}");
        double[] acp = new DDIMScheduler(cfg, 0).alphasCumprod();
        double[] expected = {0.9, 0.9 * 0.8, 0.9 * 0.8 * 0.7, 0.9 * 0.8 * 0.7 * 0.6};
        Close.assertClose(expected, acp, 0, 1e-6);
        assertThrows(
                UnsupportedOperationException.class, () -> cfg.trainedBetas().add(0.5));
    }

    @Test
    void readNamesTheFileOnError(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("nope.json");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SchedulerConfig.read(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"beta_schedule\": \"cosine\"}");
        e = assertThrows(IllegalArgumentException.class, () -> SchedulerConfig.read(bad));
        assertTrue(e.getMessage().contains(bad.toString()) && e.getMessage().contains("cosine"), e.getMessage());
    }
}
