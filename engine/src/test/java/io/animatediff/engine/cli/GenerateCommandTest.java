package io.animatediff.engine.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.Mp4Reader;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The CLI contract end to end on a tiny model written in the real formats. */
class GenerateCommandTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void writeModel() throws Exception {
        TinyModels.writeBaseModel(dir.resolve("base"), 0);
        TinyModels.writeMotionModule(dir.resolve("motion.safetensors"), MotionModuleConfig.tiny(false), 100, true);
    }

    /** Runs the CLI; returns exit code, stdout and stderr. */
    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    record Result(int code, String out, String err) {}

    private static List<String> generate(String... extra) {
        List<String> a = new ArrayList<>(List.of(
                "generate",
                "--model",
                dir.resolve("base").toString(),
                "--motion-module",
                dir.resolve("motion.safetensors").toString(),
                "--prompt",
                "a red circle moving left",
                "--frames",
                "4",
                "--width",
                "64",
                "--height",
                "64",
                "--steps",
                "2",
                "--seed",
                "13100322578370451493"));
        a.addAll(List.of(extra));
        return a;
    }

    @Test
    void writesAValidGifAndMp4() throws Exception {
        Path gif = dir.resolve("a.gif");
        Result r = run(generate("--out", gif.toString()).toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            ImageReader reader = readers.next();
            reader.setInput(in);
            assertEquals(4, reader.getNumImages(true));
            assertEquals(64, reader.getWidth(0));
            assertEquals(64, reader.getHeight(0));
        }
        Path mp4 = dir.resolve("a.mp4");
        r = run(generate("--output-type", "mp4", "--out", mp4.toString()).toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        Frames decoded = Mp4Reader.read(mp4);
        assertEquals(4, decoded.count());
        assertEquals(64, decoded.width());
    }

    @Test
    void latentsRoundTripThroughTheLatentOutputAndInput() throws Exception {
        Path latents = dir.resolve("latents.safetensors");
        Result r = run(
                generate("--output-type", "latent", "--out", latents.toString()).toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        float[] first;
        try (TensorSource src = TensorSources.open(latents)) {
            assertArrayEquals(new long[] {1, 4, 4, 8, 8}, src.info("latents").shape());
            first = src.loadFloats("latents");
        }
        Path frames = dir.resolve("frames.safetensors");
        r = run(generate("--output-type", "frames", "--latents", latents.toString(), "--out", frames.toString())
                .toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        try (TensorSource src = TensorSources.open(frames)) {
            assertArrayEquals(new long[] {4, 3, 64, 64}, src.info("frames").shape());
        }
        Path again = dir.resolve("latents2.safetensors");
        r = run(generate("--output-type", "latent", "--latents", latents.toString(), "--out", again.toString())
                .toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        try (TensorSource src = TensorSources.open(again)) {
            assertNotEquals(first[0], src.loadFloats("latents")[0], "given latents replace the seeded noise");
        }
    }

    @Test
    void inspectPresetsPrintExactParameterCounts() {
        Result r = run("inspect", "--preset", "sd15");
        assertEquals(0, r.code(), r.err());
        assertEquals(
                List.of("unet 859520964", "vae 83653863", "text_encoder 123060480"),
                r.out().lines().toList());
        r = run("inspect", "--preset", "mm-v2");
        assertTrue(r.out().lines().anyMatch("motion_modules 453209280"::equals), r.out());
        r = run("inspect", "--preset", "mm-v1");
        assertTrue(r.out().lines().anyMatch("motion_modules 417137600"::equals), r.out());
    }

    @Test
    void inspectDescribesFiles() {
        Result r = run("inspect", dir.resolve("motion.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("kind motion (official layout)"), r.out());
        assertTrue(r.out().contains("format safetensors"), r.out());
        r = run("inspect", dir.resolve("base").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("kind base"), r.out());
        assertTrue(
                r.out().lines().anyMatch(l -> l.matches("unet dtype \\{F32=\\d+} tensors \\d+ parameters \\d+")),
                r.out());
    }

    @Test
    void badInputExitsNonZeroWithOneClearLine() throws Exception {
        Path corrupt = dir.resolve("corrupt.safetensors");
        Files.write(corrupt, new byte[] {1, 2, 3});
        String[][] cases = {
            generate("--scheduler", "dpm", "--out", dir.resolve("x.gif").toString())
                    .toArray(String[]::new),
            generate("--frames", "0", "--out", dir.resolve("x.gif").toString()).toArray(String[]::new),
            generate("--seed", "abc", "--out", dir.resolve("x.gif").toString()).toArray(String[]::new),
            {"inspect", dir.resolve("missing.safetensors").toString()},
            {"inspect", corrupt.toString()},
            generate("--output-type", "webp", "--out", dir.resolve("x.webp").toString())
                    .toArray(String[]::new),
        };
        String[] expected = {
            "scheduler", "num_frames: 0", "seed 'abc'", "missing.safetensors", "corrupt.safetensors", "webp"
        };
        for (int i = 0; i < cases.length; i++) {
            Result r = run(cases[i]);
            assertNotEquals(0, r.code(), String.join(" ", cases[i]));
            assertTrue(r.err().startsWith("error: "), r.err());
            assertTrue(r.err().contains(expected[i]), "expected '" + expected[i] + "' in: " + r.err());
        }
    }
}
