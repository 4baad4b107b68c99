package io.animatediff.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.VideoReader;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.training.SyntheticClips;
import io.animatediff.engine.training.TrainingCheckpoint;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TrainCommandTest {

    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private static List<String> args(Path base, Path data, Path out, int steps, String... more) {
        List<String> a = new ArrayList<>(List.of(
                "train",
                "--model",
                base.toString(),
                "--dataset",
                data.toString(),
                "--motion-version",
                "tiny",
                "--steps",
                Integer.toString(steps),
                "--batch",
                "1",
                "--frames",
                "8",
                "--stride",
                "1",
                "--size",
                "32",
                "--checkpoint-every",
                "2",
                "--seed",
                "3",
                "--out",
                out.toString()));
        a.addAll(List.of(more));
        return a;
    }

    @Test
    void trainsCheckpointsValidatesAndResumes(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base");
        Path data = dir.resolve("data");
        Path out = dir.resolve("out");
        TinyModels.writeBaseModel(base, 0);
        SyntheticClips.write(data, 4, 10, 36, 1);

        Run first = run(args(
                        base,
                        data,
                        out,
                        3,
                        "--validate-every",
                        "3",
                        "--validation-prompt",
                        "a red circle moving left",
                        "--validation-steps",
                        "2")
                .toArray(String[]::new));
        assertEquals(0, first.exit(), first.err());
        assertTrue(first.out().contains("step 1/3  loss "), first.out());
        assertTrue(first.out().contains("samples/s"), first.out());
        assertTrue(first.out().contains("checkpoint " + TrainingCheckpoint.dir(out, 2)), first.out());
        assertTrue(first.out().contains("final " + TrainingCheckpoint.dir(out, 3)), first.out());
        assertTrue(first.err().contains("training the motion module"), first.err());
        assertTrue(first.err().contains("skipped clips: none"), first.err());
        Path gif = out.resolve("samples/step-3/0.gif");
        assertTrue(first.out().contains("sample " + gif), first.out());
        Frames sample = VideoReader.read(gif);
        assertEquals(8, sample.count());
        assertEquals(32, sample.width());

        Run resumed = run(args(base, data, out, 5, "--resume").toArray(String[]::new));
        assertEquals(0, resumed.exit(), resumed.err());
        assertTrue(resumed.err().contains("resuming from " + TrainingCheckpoint.dir(out, 3)), resumed.err());
        assertTrue(resumed.out().startsWith("step 4/5"), resumed.out());
        assertTrue(Files.isRegularFile(TrainingCheckpoint.dir(out, 5).resolve(TrainingCheckpoint.COMPLETE)));
    }

    @Test
    void badArgumentsGetOneClearLine(@TempDir Path dir) {
        Run lora = run(
                "train",
                "--model",
                dir.toString(),
                "--dataset",
                dir.toString(),
                "--steps",
                "1",
                "--motion-lora",
                "4",
                "--out",
                dir.resolve("o").toString());
        assertEquals(1, lora.exit());
        assertTrue(
                lora.err().contains("a MotionLoRA trains on top of a trained motion module: pass --motion-module"),
                lora.err());
        Run s3 = run(
                "train",
                "--model",
                dir.toString(),
                "--dataset",
                "s3://bucket/clips",
                "--steps",
                "1",
                "--out",
                dir.toString());
        assertEquals(1, s3.exit());
        assertTrue(s3.err().contains("no reader for s3:// on the classpath"), s3.err());
    }
}
