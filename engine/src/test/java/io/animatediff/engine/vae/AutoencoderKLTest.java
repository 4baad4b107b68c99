package io.animatediff.engine.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.nn.Conv2d;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.nn.StateDict;
import io.animatediff.engine.nn.WeightLoadException;
import io.animatediff.engine.nn.WeightLoader;
import io.animatediff.engine.unet.VideoLayout;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The VAE: full-size layout without allocating, tiny seeded numerics, video chunking, strict loading. */
class AutoencoderKLTest {
    private static NDManager manager;
    private static AutoencoderKL vae;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        vae = new AutoencoderKL(AutoencoderKLConfig.tiny());
        vae.initialize(manager, 7);
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    @Test
    void sd15VaeHasThePublishedParameterCount() {
        assertEquals(83_653_863L, new AutoencoderKL(AutoencoderKLConfig.sd15()).parameterCount());
    }

    @Test
    void sd15KeysAndShapesAreDiffusers() {
        Map<String, Param> keys = new AutoencoderKL(AutoencoderKLConfig.sd15()).namedTensors();
        Object[][] expected = {
            {"encoder.conv_in.weight", new long[] {128, 3, 3, 3}},
            {"encoder.down_blocks.0.resnets.1.norm2.weight", new long[] {128}},
            {"encoder.down_blocks.1.resnets.0.conv_shortcut.weight", new long[] {256, 128, 1, 1}},
            {"encoder.down_blocks.2.downsamplers.0.conv.weight", new long[] {512, 512, 3, 3}},
            {"encoder.mid_block.resnets.1.conv2.bias", new long[] {512}},
            {"encoder.mid_block.attentions.0.group_norm.weight", new long[] {512}},
            {"encoder.mid_block.attentions.0.to_q.weight", new long[] {512, 512}},
            {"encoder.mid_block.attentions.0.to_k.bias", new long[] {512}},
            {"encoder.mid_block.attentions.0.to_v.weight", new long[] {512, 512}},
            {"encoder.mid_block.attentions.0.to_out.0.weight", new long[] {512, 512}},
            {"encoder.conv_norm_out.bias", new long[] {512}},
            {"encoder.conv_out.weight", new long[] {8, 512, 3, 3}},
            {"quant_conv.weight", new long[] {8, 8, 1, 1}},
            {"post_quant_conv.weight", new long[] {4, 4, 1, 1}},
            {"decoder.conv_in.weight", new long[] {512, 4, 3, 3}},
            {"decoder.mid_block.attentions.0.to_out.0.bias", new long[] {512}},
            {"decoder.up_blocks.0.resnets.2.conv2.weight", new long[] {512, 512, 3, 3}},
            {"decoder.up_blocks.0.upsamplers.0.conv.weight", new long[] {512, 512, 3, 3}},
            {"decoder.up_blocks.2.resnets.0.conv_shortcut.weight", new long[] {256, 512, 1, 1}},
            {"decoder.up_blocks.3.resnets.2.norm1.weight", new long[] {128}},
            {"decoder.conv_norm_out.weight", new long[] {128}},
            {"decoder.conv_out.weight", new long[] {3, 128, 3, 3}},
        };
        for (Object[] e : expected) {
            Param p = keys.get((String) e[0]);
            assertTrue(p != null, "missing key " + e[0]);
            assertArrayEquals((long[]) e[1], p.shape().getShape(), (String) e[0]);
        }
        assertTrue(!keys.containsKey("encoder.down_blocks.3.downsamplers.0.conv.weight"), "last encoder block");
        assertTrue(!keys.containsKey("decoder.up_blocks.3.upsamplers.0.conv.weight"), "last decoder block");
        assertTrue(!keys.containsKey("decoder.up_blocks.0.resnets.3.conv1.weight"), "layers_per_block + 1 resnets");
        assertTrue(keys.values().stream().noneMatch(Param::isBuffer), "the VAE has no buffers");
    }

    @Test
    void configReadsDiffusersVaeConfigJson() throws Exception {
        String json = "{\"_class_name\": \"AutoencoderKL\", \"_diffusers_version\": \"0.6.0\", \"act_fn\": \"silu\","
                + " \"block_out_channels\": [128, 256, 512, 512], \"down_block_types\": [\"DownEncoderBlock2D\","
                + " \"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\"], \"in_channels\": 3,"
                + " \"latent_channels\": 4, \"layers_per_block\": 2, \"norm_num_groups\": 32, \"out_channels\": 3,"
                + " \"sample_size\": 512, \"force_upcast\": true, \"up_block_types\": [\"UpDecoderBlock2D\","
                + " \"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\"]}";
        AutoencoderKLConfig c = new ObjectMapper().readValue(json, AutoencoderKLConfig.class);
        assertEquals(AutoencoderKLConfig.sd15(), c);
        assertEquals(0.18215, c.scalingFactor(), 0.0);
        assertEquals(8, c.downscale());
        String bad = json.replace("\"UpDecoderBlock2D\"]", "\"AttnUpDecoderBlock2D\"]");
        Exception e = assertThrows(Exception.class, () -> new ObjectMapper().readValue(bad, AutoencoderKLConfig.class));
        assertTrue(messages(e).contains("AttnUpDecoderBlock2D"), messages(e));
    }

    @Test
    void decodeAndEncodeShapes() {
        try (NDManager m = manager.newSubManager()) {
            NDArray images = vae.decode(randn(m, 1, new Shape(1, 4, 8, 8)));
            assertEquals(new Shape(1, 3, 64, 64), images.getShape());
            NDArray mean = vae.encode(randn(m, 2, new Shape(2, 3, 64, 64)));
            assertEquals(new Shape(2, 4, 8, 8), mean.getShape());
            // pad right/bottom by one, 3x3 conv, stride 2: each downsampling gives floor(H / 2), as torch
            assertEquals(
                    new Shape(1, 4, 5, 7),
                    vae.encode(randn(m, 3, new Shape(1, 3, 40, 56))).getShape());
            assertEquals(
                    new Shape(1, 4, 1, 2),
                    vae.encode(randn(m, 3, new Shape(1, 3, 9, 17))).getShape());
            Exception e =
                    assertThrows(IllegalArgumentException.class, () -> vae.decode(m.zeros(new Shape(1, 3, 8, 8))));
            assertTrue(e.getMessage().contains("C = 4"), e.getMessage());
        }
    }

    @Test
    void latentDistributionSamplesMeanPlusStdTimesNoise() {
        try (NDManager m = manager.newSubManager()) {
            NDArray images = randn(m, 4, new Shape(1, 3, 32, 32));
            DiagonalGaussianDistribution d = vae.latentDist(images);
            NDArray noise = randn(m, 5, d.mean().getShape());
            float[] mean = d.mean().toFloatArray();
            float[] logvar = d.logvar().toFloatArray();
            float[] n = noise.toFloatArray();
            float[] expected = new float[mean.length];
            for (int i = 0; i < mean.length; i++) {
                assertTrue(logvar[i] >= -30 && logvar[i] <= 20, "logvar clamped");
                expected[i] = (float) (mean[i] + Math.exp(0.5 * logvar[i]) * n[i]);
            }
            assertClose(expected, d.sample(noise).toFloatArray(), 1e-6, 1e-5);
            assertClose(mean, vae.encode(images).toFloatArray(), 0, 0);
        }
    }

    @Test
    void scaleAndUnscaleAreInverse() {
        try (NDManager m = manager.newSubManager()) {
            NDArray z = randn(m, 6, new Shape(1, 4, 2, 2));
            float[] scaled = vae.scale(z).toFloatArray();
            float[] raw = z.toFloatArray();
            for (int i = 0; i < raw.length; i++) {
                assertEquals(raw[i] * 0.18215f, scaled[i], 1e-6 + 1e-6 * Math.abs(raw[i]));
            }
            assertClose(raw, vae.unscale(vae.scale(z)).toFloatArray(), 1e-6, 1e-6);
        }
    }

    @Test
    void decodeVideoEqualsFrameByFrameDecodeForAnyChunkSize() {
        try (NDManager m = manager.newSubManager()) {
            int frames = 3;
            NDArray latents = randn(m, 8, new Shape(2, 4, frames, 4, 4)); // (B, L, F, h, w)
            NDArray one = vae.decodeVideo(latents, 1);
            NDArray all = vae.decodeVideo(latents, frames);
            NDArray two = vae.decodeVideo(latents, 2);
            assertEquals(new Shape(2, 3, frames, 32, 32), one.getShape());
            assertClose(one.toFloatArray(), all.toFloatArray(), 1e-5, 1e-5);
            assertClose(one.toFloatArray(), two.toFloatArray(), 1e-5, 1e-5);
            for (int b = 0; b < 2; b++) {
                for (int f = 0; f < frames; f++) {
                    NDArray frame = latents.get(new NDIndex("{}:{}, :, {}", b, b + 1, f)); // (1, L, h, w)
                    NDArray expected = vae.decode(frame); // (1, 3, H, W)
                    NDArray actual = one.get(new NDIndex("{}:{}, :, {}", b, b + 1, f));
                    assertClose(expected.toFloatArray(), actual.toFloatArray(), 1e-5, 1e-5);
                }
            }
            assertTrue(
                    maxAbsDiff(one.get(new NDIndex(":, :, 0")), one.get(new NDIndex(":, :, 1"))) > 1e-4,
                    "frames differ, so the comparison is not vacuous");
        }
    }

    @Test
    void videoHelpersLeaveOnlyTheirResultOnTheInputManager() {
        for (int frames : new int[] {1, 4}) {
            try (NDManager m = manager.newSubManager()) {
                NDArray latents = randn(m, 9, new Shape(1, 4, frames, 2, 2));
                int before = managed(m);
                NDArray video = vae.decodeVideo(latents, 1);
                assertEquals(before + 1, managed(m), "decodeVideo, F = " + frames);
                assertEquals(new Shape(1, 3, frames, 16, 16), video.getShape());
                NDArray means = vae.encodeVideo(video, 1);
                assertEquals(before + 2, managed(m), "encodeVideo, F = " + frames);
                assertEquals(new Shape(1, 4, frames, 2, 2), means.getShape());
            }
        }
    }

    @Test
    void encodeVideoEqualsEncodingTheFoldedFrames() {
        try (NDManager m = manager.newSubManager()) {
            NDArray video = randn(m, 10, new Shape(1, 3, 3, 16, 16));
            NDArray chunked = vae.encodeVideo(video, 2);
            NDArray whole = VideoLayout.unfold(vae.encode(VideoLayout.fold(video)), 3);
            assertClose(whole.toFloatArray(), chunked.toFloatArray(), 1e-5, 1e-5);
        }
    }

    @Test
    void strictLoadingRoundTripsAndNamesBadKeys() {
        AutoencoderKLConfig cfg = AutoencoderKLConfig.tiny();
        try (NDManager m = manager.newSubManager()) {
            NDArray latents = randn(m, 11, new Shape(1, 4, 4, 4));
            float[] reference = vae.decode(latents).toFloatArray();
            AutoencoderKL fresh = new AutoencoderKL(cfg);
            fresh.initialize(m, 99);
            assertTrue(maxAbsDiff(reference, fresh.decode(latents).toFloatArray()) > 1e-3, "different seed differs");
            WeightLoader.load(fresh, StateDict.of(vae, "tiny vae"), m);
            assertClose(reference, fresh.decode(latents).toFloatArray(), 0, 0);

            AutoencoderKL target = new AutoencoderKL(cfg);
            StateDict missing =
                    StateDict.of(vae, "tiny vae").renamed(k -> k.equals("decoder.conv_out.bias") ? null : k);
            WeightLoadException e1 =
                    assertThrows(WeightLoadException.class, () -> WeightLoader.load(target, missing, m));
            assertEquals(java.util.List.of("decoder.conv_out.bias"), e1.missing());
            assertTrue(e1.unexpected().isEmpty());
            assertTrue(e1.getMessage().contains("decoder.conv_out.bias"), e1.getMessage());

            StateDict extra = StateDict.union(
                    "tiny vae + extra",
                    StateDict.of(vae, "tiny vae"),
                    StateDict.of(new Conv2d(4, 4, 1, 1, 0), "conv").renamed(k -> "decoder.extra_conv." + k));
            WeightLoadException e2 = assertThrows(WeightLoadException.class, () -> WeightLoader.load(target, extra, m));
            assertEquals(java.util.List.of("decoder.extra_conv.weight", "decoder.extra_conv.bias"), e2.unexpected());
            assertTrue(e2.missing().isEmpty());
            assertTrue(e2.getMessage().contains("decoder.extra_conv.weight"), e2.getMessage());
        }
    }

    // ---- helpers

    static NDArray randn(NDManager m, long seed, Shape shape) {
        java.util.Random r = new java.util.Random(seed);
        float[] v = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return m.create(v, shape);
    }

    static float[] uniform(long seed, int n, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return v;
    }

    /** |a - b| <= atol + rtol * |b| element-wise, with the first offending index in the message. */
    static void assertClose(float[] expected, float[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, "length");
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs(actual[i] - expected[i]);
            if (!(diff <= atol + rtol * Math.abs(expected[i]))) {
                throw new AssertionError("index " + i + ": expected " + expected[i] + ", got " + actual[i] + " (|diff| "
                        + diff + " > " + atol + " + " + rtol + " * |expected|)");
            }
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    static double maxAbsDiff(NDArray a, NDArray b) {
        return maxAbsDiff(a.toFloatArray(), b.toFloatArray());
    }

    private static int managed(NDManager m) {
        return ((BaseNDManager) m).getManagedArrays().size();
    }

    private static String messages(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c.getMessage()).append('\n');
        }
        return sb.toString();
    }
}
