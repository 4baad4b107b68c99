package io.animatediff.engine.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.Mp4Reader;
import io.animatediff.engine.model.AnimateDiffModel;
import io.animatediff.engine.model.ModelLoader;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.pipeline.TorchRandom;
import io.animatediff.engine.text.TokenizedPrompt;
import io.animatediff.engine.unet.UNet3DConditionModel;
import io.animatediff.engine.weights.SafetensorsWriter;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import io.animatediff.engine.weights.TorchCheckpoints;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line end to end on a tiny model on disk: generate, inspect, and clear errors. */
class MainTest {
    @TempDir
    static Path dir;

    private static Path base;
    private static Path motion;
    private static Path ckpt;
    private static Path lora;

    /** What one command printed and returned. */
    record Result(int exit, String out, String err) {
        List<String> errLines() {
            return err.lines().filter(l -> !l.isBlank()).toList();
        }
    }

    @BeforeAll
    static void write() throws IOException {
        base = dir.resolve("base");
        TinyModels.writeBaseModel(base, 0);
        motion = dir.resolve("motion.safetensors");
        TinyModels.writeMotionModule(motion, MotionModuleConfig.tiny(false), 100, true);
        ckpt = dir.resolve("mm_tiny.ckpt");
        lora = dir.resolve("lora.safetensors");
        try (TensorSource src = TensorSources.open(motion);
                NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (String k : src.keys()) {
                tensors.put(k, src.load(k, m));
            }
            TorchCheckpoints.save(ckpt, tensors, true);
            Random random = new Random(3);
            String module = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
            Map<String, NDArray> l = new LinkedHashMap<>();
            l.put(module + ".lora_down.weight", m.create(gaussian(random, 4 * 32), new Shape(4, 32)));
            l.put(module + ".lora_up.weight", m.create(gaussian(random, 32 * 4), new Shape(32, 4)));
            l.put(module + ".alpha", m.create(4f));
            SafetensorsWriter.write(lora, l, Map.of("format", "pt"));
        }
    }

    private static float[] gaussian(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }

    static Result run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Result(exit, out.toString(), err.toString());
    }

    /**
     * generate on the tiny model (64x64, 3 frames, 2 steps, seed 7); {@code more} are option/value
     * pairs replacing or adding to those ({@code null} value: drop the option).
     */
    private static Result generate(Path out, String... more) {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("--model", base.toString());
        options.put("--motion-module", motion.toString());
        options.put("--prompt", "a red circle moving left");
        options.put("--frames", "3");
        options.put("--width", "64");
        options.put("--height", "64");
        options.put("--steps", "2");
        options.put("--seed", "7");
        options.put("--out", out.toString());
        for (int i = 0; i < more.length; i += 2) {
            options.put(more[i], more[i + 1]);
        }
        List<String> args = new ArrayList<>(List.of("generate"));
        options.forEach((k, v) -> {
            if (v != null) {
                args.add(k);
                args.add(v);
            }
        });
        return run(args.toArray(String[]::new));
    }

    private static Result ok(Result r) {
        assertEquals(0, r.exit(), "exit code; stderr:\n" + r.err());
        return r;
    }

    private static float[] tensor(Path file, String name, long... shape) throws IOException {
        try (TensorSource src = TensorSources.open(file);
                NDManager m = NDManager.newBaseManager()) {
            assertEquals(List.of(name), src.keys());
            assertArrayEquals(shape, src.info(name).shape(), name + " shape");
            return src.load(name, m).toFloatArray();
        }
    }

    @Test
    void generateWritesAGifWithTheRequestedFramesAndSize() throws IOException {
        Path gif = dir.resolve("out/anim.gif");
        Result r = ok(generate(gif, "--width", "64", "--height", "48"));
        assertTrue(r.out().contains(gif.toString()), r.out());
        ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
            reader.setInput(in);
            assertEquals(3, reader.getNumImages(true), "GIF frames");
            for (int i = 0; i < 3; i++) {
                assertEquals(64, reader.getWidth(i));
                assertEquals(48, reader.getHeight(i));
            }
        } finally {
            reader.dispose();
        }
    }

    @Test
    void generateWritesAnMp4() throws IOException {
        Path mp4 = dir.resolve("out/anim.mp4");
        ok(generate(mp4, "--output-type", "mp4", "--frames", "4"));
        Frames frames = Mp4Reader.read(mp4);
        assertEquals(4, frames.count(), "MP4 frames");
        assertEquals(64, frames.width());
        assertEquals(64, frames.height());
    }

    @Test
    void latentOutputFeedsBackAsInputLatents() throws IOException {
        Path seeded = dir.resolve("latent/seeded.safetensors");
        ok(generate(seeded, "--output-type", "latent"));
        float[] fromSeed = tensor(seeded, "latents", 1, 4, 3, 8, 8);

        // the seed's own noise, given as --latents with another seed, gives the seed's result
        Path noise = dir.resolve("latent/noise.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray n = TorchRandom.randn(m, new Shape(1, 4, 3, 8, 8), 7);
            SafetensorsWriter.write(noise, Map.of("latents", n), Map.of());
        }
        Path fromNoise = dir.resolve("latent/from-noise.safetensors");
        ok(generate(fromNoise, "--output-type", "latent", "--seed", "99", "--latents", noise.toString()));
        assertArrayEquals(fromSeed, tensor(fromNoise, "latents", 1, 4, 3, 8, 8), 1e-6f);

        // a result fed back in with more steps
        Path again = dir.resolve("latent/again.safetensors");
        ok(generate(again, "--output-type", "latent", "--latents", seeded.toString(), "--steps", "3"));
        float[] next = tensor(again, "latents", 1, 4, 3, 8, 8);
        assertFalse(Arrays.equals(fromSeed, next));
    }

    @Test
    void framesOutputIsAnFx3xHxWTensorInZeroOne() throws IOException {
        Path frames = dir.resolve("frames.safetensors");
        ok(generate(frames, "--output-type", "frames", "--frames", "2"));
        float[] v = tensor(frames, "frames", 2, 3, 64, 64);
        for (float x : v) {
            assertTrue(x >= 0 && x <= 1, "pixel " + x);
        }
        assertTrue(Arrays.stream(toDouble(v)).distinct().count() > 10, "not a constant image");
    }

    private static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    @Test
    void promptEmbedsStandInForThePrompt() throws IOException {
        Path embeds = dir.resolve("embeds.safetensors");
        try (AnimateDiffModel model =
                        ModelLoader.load(base, motion, MotionModuleConfig.MotionNorm.OFFICIAL, List.of());
                NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            t.put("prompt_embeds", encode(model, m, "a red circle moving left"));
            t.put("negative_prompt_embeds", encode(model, m, ""));
            SafetensorsWriter.write(embeds, t, Map.of());
        }
        Path withPrompt = dir.resolve("embeds/prompt.safetensors");
        ok(generate(withPrompt, "--output-type", "latent"));
        Path withEmbeds = dir.resolve("embeds/embeds.safetensors");
        ok(generate(withEmbeds, "--output-type", "latent", "--prompt", null, "--prompt-embeds", embeds.toString()));
        assertArrayEquals(
                tensor(withPrompt, "latents", 1, 4, 3, 8, 8), tensor(withEmbeds, "latents", 1, 4, 3, 8, 8), 1e-6f);
    }

    private static NDArray encode(AnimateDiffModel model, NDManager m, String text) {
        TokenizedPrompt tokens = model.tokenizer().encode(text);
        long[] ids = Arrays.stream(tokens.ids()).asLongStream().toArray();
        NDArray out = model.textEncoder().forward(m.create(ids, new Shape(1, ids.length))); // (1, S, C)
        out.attach(m);
        return out;
    }

    @Test
    void loraWithAScaleIsMerged() throws IOException {
        Path none = dir.resolve("lora/none.safetensors");
        ok(generate(none, "--output-type", "latent"));
        Path half = dir.resolve("lora/half.safetensors");
        ok(generate(half, "--output-type", "latent", "--lora", lora + ":0.5"));
        Path zero = dir.resolve("lora/zero.safetensors");
        ok(generate(zero, "--output-type", "latent", "--lora", lora + ":0"));
        float[] a = tensor(none, "latents", 1, 4, 3, 8, 8);
        assertFalse(Arrays.equals(a, tensor(half, "latents", 1, 4, 3, 8, 8)), "--lora FILE:0.5 changes the output");
        assertArrayEquals(a, tensor(zero, "latents", 1, 4, 3, 8, 8), "--lora FILE:0 is no LoRA");
    }

    @Test
    void inspectPresetsPrintTheExactPublicParameterCounts() {
        Result sd15 = ok(run("inspect", "--preset", "sd15"));
        assertEquals(
                List.of("unet 859520964", "vae 83653863", "text_encoder 123060480"),
                sd15.out().lines().toList());
        Result v2 = ok(run("inspect", "--preset", "mm-v2"));
        assertTrue(v2.out().lines().anyMatch("motion_modules 453209280"::equals), v2.out());
        assertTrue(v2.out().lines().anyMatch("modules 21"::equals), v2.out());
        // v1: 20 modules of 22 C^2 + 21 C parameters (5 x 320, 5 x 640, 10 x 1280) = 417,137,600
        Result v1 = ok(run("inspect", "--preset", "mm-v1"));
        assertTrue(v1.out().lines().anyMatch("motion_modules 417137600"::equals), v1.out());
    }

    @Test
    void inspectFilesPrintsFormatKindVersionAndParameters() {
        UNet2DConditionConfig tiny = UNet2DConditionConfig.tiny();
        long unet = new UNet3DConditionModel(tiny, null).parameterCount();
        long motionParams = new UNet3DConditionModel(tiny, MotionModuleConfig.tiny(false)).parameterCount() - unet;

        List<String> folder = ok(run("inspect", base.toString())).out().lines().toList();
        assertTrue(folder.contains("format diffusers-folder"), folder.toString());
        assertTrue(folder.contains("kind base"), folder.toString());
        assertTrue(
                folder.stream().anyMatch(l -> l.startsWith("unet ") && l.endsWith(" parameters " + unet)),
                folder.toString());

        List<String> st = ok(run("inspect", motion.toString())).out().lines().toList();
        assertTrue(st.contains("format safetensors"), st.toString());
        assertTrue(st.contains("kind motion (official layout)"), st.toString());
        assertTrue(st.contains("version v3 (positions 32)"), st.toString());
        assertTrue(st.stream().anyMatch(l -> l.endsWith(" parameters " + motionParams)), st.toString());

        List<String> pt = ok(run("inspect", ckpt.toString())).out().lines().toList();
        assertTrue(pt.contains("format torch-zip"), pt.toString());
        assertTrue(pt.contains("kind motion (official layout)"), pt.toString());
        assertTrue(pt.contains("version v3 (positions 32)"), pt.toString());
        assertTrue(pt.stream().anyMatch(l -> l.endsWith(" parameters " + motionParams)), pt.toString());
    }

    /** Exit non-zero with exactly one "error: ..." line (the last one) containing every fragment. */
    private static void assertOneLineError(Result r, String... fragments) {
        assertNotEquals(0, r.exit(), "exit code; stdout:\n" + r.out());
        List<String> lines = r.errLines();
        List<String> errors =
                lines.stream().filter(l -> l.startsWith("error: ")).toList();
        assertEquals(1, errors.size(), "one error line in:\n" + r.err());
        assertEquals(errors.get(0), lines.get(lines.size() - 1), "the error is the last line:\n" + r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace:\n" + r.err());
        for (String f : fragments) {
            assertTrue(errors.get(0).contains(f), "'" + f + "' in: " + errors.get(0));
        }
    }

    @Test
    void badInputGivesOneClearErrorLine() throws IOException {
        Path out = dir.resolve("bad/out.gif");
        Path missing = dir.resolve("no-such-model");
        assertOneLineError(generate(out, "--model", missing.toString()), missing.toString(), "does not exist");

        Path corrupt = dir.resolve("bad/corrupt.safetensors");
        Files.createDirectories(corrupt.getParent());
        byte[] whole = Files.readAllBytes(motion);
        Files.write(corrupt, Arrays.copyOf(whole, whole.length / 2));
        assertOneLineError(generate(out, "--motion-module", corrupt.toString()), corrupt.toString());

        assertOneLineError(generate(out, "--scheduler", "heun"), "scheduler", "heun");
        assertOneLineError(generate(out, "--frames", "0"), "num_frames: 0");
        assertOneLineError(generate(out, "--seed", "abc"), "seed 'abc'", "unsigned 64-bit");
        assertFalse(Files.exists(out), "nothing written on errors");
        assertOneLineError(run("inspect", dir.resolve("nothing.ckpt").toString()), "nothing.ckpt does not exist");
        assertOneLineError(run("inspect", "--preset", "sdxl"), "unknown preset 'sdxl'");
    }

    @Test
    void multiLineMessagesAreJoinedOnOneLine() {
        assertEquals(
                "invalid generation parameters: num_frames: 0 is outside; steps: bad",
                Main.oneLine(new IllegalArgumentException(
                        "invalid generation parameters:\n  num_frames: 0 is outside\n  steps: bad\n")));
        assertEquals("java.lang.NullPointerException", Main.oneLine(new NullPointerException()));
        assertEquals("/x/y.ckpt does not exist", Main.oneLine(new java.nio.file.NoSuchFileException("/x/y.ckpt")));
    }

    /** {@link #generate} plus raw arguments appended (repeatable options). */
    private static Result generateWith(Path out, List<String> raw, String... more) {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("--model", base.toString());
        options.put("--motion-module", motion.toString());
        options.put("--prompt", "a red circle moving left");
        options.put("--frames", "3");
        options.put("--width", "64");
        options.put("--height", "64");
        options.put("--steps", "2");
        options.put("--seed", "7");
        options.put("--out", out.toString());
        for (int i = 0; i < more.length; i += 2) {
            options.put(more[i], more[i + 1]);
        }
        List<String> args = new ArrayList<>(List.of("generate"));
        options.forEach((k, v) -> {
            if (v != null) {
                args.add(k);
                args.add(v);
            }
        });
        args.addAll(raw);
        return run(args.toArray(String[]::new));
    }

    @Test
    void generationFeatureOptionsRun() throws IOException {
        // context windows: 40 frames through 16-frame windows
        Path ctx = dir.resolve("features/context.safetensors");
        ok(generate(
                ctx,
                "--output-type",
                "latent",
                "--frames",
                "40",
                "--context-length",
                "16",
                "--steps",
                "1",
                "--guidance",
                "1"));
        tensor(ctx, "latents", 1, 4, 40, 8, 8);
        Path loop = dir.resolve("features/loop.safetensors");
        ok(generateWith(
                loop,
                List.of("--closed-loop"),
                "--output-type",
                "latent",
                "--frames",
                "20",
                "--context-length",
                "8",
                "--steps",
                "1",
                "--guidance",
                "1"));
        // prompt travel, repeatable
        Path travel = dir.resolve("features/travel.safetensors");
        ok(generateWith(
                travel,
                List.of("--prompt-map", "0=a red circle", "--prompt-map", "2=a blue square"),
                "--output-type",
                "latent",
                "--prompt",
                null));
        Path plain = dir.resolve("features/plain.safetensors");
        ok(generate(plain, "--output-type", "latent", "--prompt", "a red circle"));
        assertFalse(Arrays.equals(tensor(plain, "latents", 1, 4, 3, 8, 8), tensor(travel, "latents", 1, 4, 3, 8, 8)));
        // video-to-video from a GIF this command wrote; strength 0 runs no step
        Path gif = dir.resolve("features/input.gif");
        ok(generate(gif, "--frames", "3"));
        Path kept = dir.resolve("features/kept.safetensors");
        Result r = ok(generate(kept, "--output-type", "latent", "--video", gif.toString(), "--strength", "0"));
        assertFalse(r.err().contains("step 1/"), "strength 0 denoises nothing:\n" + r.err());
        Path half = dir.resolve("features/half.safetensors");
        ok(generate(half, "--output-type", "latent", "--video", gif.toString(), "--strength", "0.5"));
        assertFalse(Arrays.equals(tensor(kept, "latents", 1, 4, 3, 8, 8), tensor(half, "latents", 1, 4, 3, 8, 8)));
        // FreeInit, LCM, Lightning-style Euler
        ok(generateWith(
                dir.resolve("features/freeinit.safetensors"),
                List.of("--free-init-fast-sampling"),
                "--output-type",
                "latent",
                "--free-init-iterations",
                "2"));
        ok(generate(
                dir.resolve("features/lcm.safetensors"),
                "--output-type",
                "latent",
                "--scheduler",
                "lcm",
                "--guidance",
                "1.5"));
        ok(generate(
                dir.resolve("features/lightning.safetensors"),
                "--output-type",
                "latent",
                "--scheduler",
                "euler",
                "--timestep-spacing",
                "trailing",
                "--guidance",
                "1"));
    }

    @Test
    void generationFeatureOptionsAreValidated() {
        Path out = dir.resolve("features-bad/out.gif");
        assertOneLineError(generate(out, "--frames", "48"), "num_frames", "context windows");
        assertOneLineError(generateWith(out, List.of("--closed-loop")), "--closed-loop", "--context-length");
        assertOneLineError(
                generate(out, "--frames", "40", "--context-length", "16", "--context-weighting", "gauss"),
                "context_weighting",
                "gauss");
        assertOneLineError(
                generate(out, "--frames", "40", "--context-length", "16", "--context-overlap", "16"),
                "context_overlap");
        assertOneLineError(
                generateWith(out, List.of("--prompt-map", "2=late"), "--prompt", null), "prompt_map", "frame 0");
        assertOneLineError(generate(out, "--strength", "2"), "strength");
        assertOneLineError(
                generate(out, "--free-init-iterations", "2", "--free-init-method", "box"), "free_init_method");
        assertOneLineError(generate(out, "--timestep-spacing", "even"), "timestep_spacing");
        assertOneLineError(generate(out, "--video", dir.resolve("no-such.gif").toString()), "no-such.gif");
    }
}
