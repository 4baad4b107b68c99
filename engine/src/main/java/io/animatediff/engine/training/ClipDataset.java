package io.animatediff.engine.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.VideoReader;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Ports animatediff.data.dataset.WebVid10M as a stream: {@code clips.jsonl} is read one line at a
 * time, each line {@code {"video": "<relative path>", "caption": "..."}} naming an MP4, an animated
 * GIF or a folder of PNG frames, and {@link #next()} returns the next usable clip sampled as the
 * reference samples (see {@link PixelTransforms}). Lines are visited in file order, epoch after epoch;
 * only one video is in memory at a time.
 *
 * <p>Bad lines are skipped, counted by reason and reported (during the first epoch this object reads),
 * never fatal: a line that is not a JSON object with a string {@code video} and {@code caption}, a
 * path leaving the dataset, a missing or unreadable video, and a video with fewer than F frames (the
 * reference would repeat frames; a clip without F distinct frames carries no motion to learn). Only
 * a dataset with no usable line at all is an error. A clip's start frame and flip are seeded by
 * (seed, epoch, line), so the stream is the same whatever position it is opened at.
 */
public final class ClipDataset implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Skip reasons, as counted in {@link #skipped()}. */
    public static final String BAD_LINE = "bad line";

    public static final String UNSAFE_PATH = "unsafe path";
    public static final String MISSING_VIDEO = "missing video";
    public static final String UNREADABLE_VIDEO = "unreadable video";
    public static final String TOO_SHORT = "too short";

    /** Where the stream is: the next line to read (0-based) of epoch {@code epoch}. */
    public record Position(int epoch, long line) {
        public Position {
            if (epoch < 0 || line < 0) {
                throw new IllegalArgumentException("dataset position (" + epoch + ", " + line + ") must be >= 0");
            }
        }

        public static final Position START = new Position(0, 0);
    }

    /**
     * One sampled clip.
     *
     * @param pixels (F, 3, S, S) in [-1, 1]
     * @param caption the line's caption (before any dropout)
     * @param video the line's relative path
     * @param epoch the epoch it was read in
     * @param line its 0-based line in clips.jsonl
     * @param start the first source frame sampled
     * @param flip whether it was flipped left to right
     */
    public record Clip(float[] pixels, String caption, String video, int epoch, long line, int start, boolean flip) {
        /** What determines the pixels within one run (frames, stride and size fixed): video, start, flip. */
        public String sampleKey() {
            return video + "@" + start + (flip ? "/flipped" : "");
        }
    }

    private final DatasetSource source;
    private final int frames;
    private final int stride;
    private final int size;
    private final long seed;
    private final Consumer<String> messages;
    private final Map<String, Long> skipped;
    private final int reportEpoch;
    private final boolean randomFlip;
    private BufferedReader reader;
    private int epoch;
    private long line;
    private long consecutiveSkips;

    private ClipDataset(
            DatasetSource source,
            int frames,
            int stride,
            int size,
            long seed,
            Position start,
            Map<String, Long> skippedSoFar,
            Consumer<String> messages,
            boolean randomFlip) {
        this.randomFlip = randomFlip;
        this.source = source;
        this.frames = frames;
        this.stride = stride;
        this.size = size;
        this.seed = seed;
        this.messages = messages;
        this.skipped = new LinkedHashMap<>(skippedSoFar);
        this.epoch = start.epoch();
        this.reportEpoch = start.epoch();
    }

    /**
     * Opens the stream at {@code start} (a checkpoint's position, or {@link Position#START}).
     *
     * @param skippedSoFar counts carried over from a checkpoint (empty for a new run)
     * @param messages receives one line per skipped clip in the first epoch read, and warnings
     */
    public static ClipDataset open(
            DatasetSource source,
            int frames,
            int stride,
            int size,
            long seed,
            Position start,
            Map<String, Long> skippedSoFar,
            Consumer<String> messages)
            throws IOException {
        return open(source, frames, stride, size, seed, start, skippedSoFar, messages, true);
    }

    /**
     * As {@link #open(DatasetSource, int, int, int, long, Position, Map, Consumer)}, with the random
     * horizontal flip on or off (off for captions that name a left/right direction: a flip would
     * contradict them). The flip's draw is made either way, so the other draws do not change.
     */
    public static ClipDataset open(
            DatasetSource source,
            int frames,
            int stride,
            int size,
            long seed,
            Position start,
            Map<String, Long> skippedSoFar,
            Consumer<String> messages,
            boolean randomFlip)
            throws IOException {
        ClipDataset d = new ClipDataset(source, frames, stride, size, seed, start, skippedSoFar, messages, randomFlip);
        d.openEpoch();
        for (long i = 0; i < start.line(); i++) {
            if (d.reader.readLine() == null) {
                break; // past the end: the next read wraps to the next epoch
            }
            d.line++;
        }
        return d;
    }

    private void openEpoch() throws IOException {
        if (reader != null) {
            reader.close();
        }
        InputStream in;
        try {
            in = source.open(DatasetSource.INDEX);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("dataset " + source.describe() + " has no " + DatasetSource.INDEX
                    + ": write one line {\"video\": \"<relative path>\", \"caption\": \"...\"} per clip");
        }
        reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        line = 0;
    }

    /** The next usable clip, skipping (and counting) bad lines; wraps to the next epoch at the end. */
    public Clip next() throws IOException {
        while (true) {
            String text = reader.readLine();
            if (text == null) {
                if (line == 0) {
                    throw new IllegalArgumentException(
                            "dataset " + source.describe() + ": " + DatasetSource.INDEX + " has no lines");
                }
                if (consecutiveSkips >= line) {
                    throw new IllegalArgumentException("dataset " + source.describe() + " has no usable clip: all "
                            + line + " lines of " + DatasetSource.INDEX + " were skipped " + skipped
                            + "; fix the lines reported above");
                }
                epoch++;
                openEpoch();
                continue;
            }
            long at = line++;
            if (text.isBlank()) {
                consecutiveSkips++;
                continue;
            }
            Clip clip = read(text, at);
            if (clip != null) {
                consecutiveSkips = 0;
                return clip;
            }
            consecutiveSkips++;
        }
    }

    /** The clip of one line, or null (counted and reported) if it cannot be used. */
    private Clip read(String text, long at) {
        String video;
        String caption;
        try {
            JsonNode node = JSON.readTree(text);
            JsonNode v = node == null ? null : node.get("video");
            JsonNode c = node == null ? null : node.get("caption");
            if (node == null
                    || !node.isObject()
                    || v == null
                    || !v.isTextual()
                    || v.asText().isBlank()) {
                return skip(BAD_LINE, at, "needs a string \"video\" (relative path)");
            }
            if (c == null || !c.isTextual()) {
                return skip(BAD_LINE, at, "needs a string \"caption\"");
            }
            video = v.asText();
            caption = c.asText();
        } catch (IOException e) {
            return skip(BAD_LINE, at, "not JSON (" + firstLine(e.getMessage()) + ")");
        }
        if (video.startsWith("/")
                || video.contains("\\")
                || Stream.of(video.split("/")).anyMatch(".."::equals)) {
            return skip(UNSAFE_PATH, at, "'" + video + "' must be relative to the dataset, without '..'");
        }
        Frames f;
        try {
            f = load(video);
        } catch (NoSuchFileException e) {
            return skip(MISSING_VIDEO, at, "'" + video + "' does not exist");
        } catch (IOException | RuntimeException e) {
            return skip(UNREADABLE_VIDEO, at, "'" + video + "': " + firstLine(e.getMessage()));
        }
        if (f.count() < frames) {
            return skip(
                    TOO_SHORT,
                    at,
                    "'" + video + "' has " + f.count() + " frames, training takes " + frames + " per clip");
        }
        SplittableRandom r = new SplittableRandom(SeedStreams.seed(seed, SeedStreams.Purpose.CLIP, epoch, at));
        int clipLength = PixelTransforms.clipLength(f.count(), frames, stride);
        int start = r.nextInt(f.count() - clipLength + 1);
        boolean flip = r.nextDouble() < 0.5 && randomFlip;
        float[] pixels = PixelTransforms.apply(f, PixelTransforms.frameIndices(start, clipLength, frames), size, flip);
        return new Clip(pixels, caption, video, epoch, at, start, flip);
    }

    private Clip skip(String reason, long at, String detail) {
        skipped.merge(reason, 1L, Long::sum);
        if (epoch == reportEpoch) {
            messages.accept(String.format(
                    Locale.ROOT, "%s line %d: skipped (%s: %s)", DatasetSource.INDEX, at + 1, reason, detail));
        }
        return null;
    }

    /** Reads a video from a local path, or copies it (a file, or a folder of frames) to a temporary place first. */
    private Frames load(String video) throws IOException {
        Optional<Path> local = source.localPath(video);
        if (local.isPresent()) {
            return VideoReader.read(local.get());
        }
        List<String> names = source.list(video);
        Path tmp = Files.createTempDirectory("animatediff-clip");
        try {
            Path target;
            if (!names.isEmpty()) {
                target = Files.createDirectory(tmp.resolve("frames"));
                for (String n : names) {
                    try (InputStream in = source.open(video + "/" + n)) {
                        Files.copy(in, target.resolve(n), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            } else {
                target = tmp.resolve("video");
                try (InputStream in = source.open(video)) {
                    Files.copy(in, target);
                }
            }
            return VideoReader.read(target);
        } finally {
            deleteTree(tmp);
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not remove the temporary copy " + root, e);
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "no detail";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    /** Where the next read starts: save it in a checkpoint to resume the stream exactly. */
    public Position position() {
        return new Position(epoch, line);
    }

    /** Clips skipped so far (including those carried over), by reason. */
    public Map<String, Long> skipped() {
        return Map.copyOf(skipped);
    }

    /** Total clips skipped so far. */
    public long skippedTotal() {
        return skipped.values().stream().mapToLong(Long::longValue).sum();
    }

    public DatasetSource source() {
        return source;
    }

    @Override
    public void close() throws IOException {
        if (reader != null) {
            reader.close();
        }
    }
}
