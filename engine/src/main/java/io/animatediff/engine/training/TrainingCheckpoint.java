package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.animatediff.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A training checkpoint: the folder {@code <out>/step-<n>/} holding the trained weights
 * ({@value #MOTION_MODULE} in the official motion-module layout, or {@value #MOTION_LORA} in the
 * MotionLoRA layout), the optimizer's moments ({@value #OPTIMIZER}), the trainer state
 * ({@value #STATE}: step, seed, data position, skip counts) and, written last, the marker
 * {@value #COMPLETE} listing every file with its size and SHA-256.
 *
 * <p>Writing is atomic: everything goes to a hidden temporary folder that is renamed to
 * {@code step-<n>} only once complete, so a crash (kill -9) leaves no half-written {@code step-<n>}.
 * Resuming takes the newest checkpoint whose marker is present and whose files match it, and says
 * why it passes over any other.
 */
public final class TrainingCheckpoint {
    public static final String MOTION_MODULE = "motion_module.safetensors";
    public static final String MOTION_LORA = "motion_lora.safetensors";
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String STATE = "trainer_state.json";
    public static final String COMPLETE = "COMPLETE";
    /** Version of {@value #STATE} written here. */
    public static final int FORMAT = 1;

    static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(SerializationFeature.INDENT_OUTPUT, true);

    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");
    private static final SecureRandom RANDOM = new SecureRandom();

    private TrainingCheckpoint() {}

    /**
     * The trainer's state after {@code step} optimizer steps: enough, with the weights and the
     * optimizer moments, to continue exactly as if never stopped.
     *
     * @param format version of this file (1)
     * @param step optimizer steps done
     * @param seed the run seed (every random draw derives from it, the step and the data position)
     * @param loraRank 0 for motion-module training, the MotionLoRA rank otherwise
     * @param epoch the dataset epoch the next clip comes from
     * @param line the next line of clips.jsonl to read
     * @param clipsSeen clips trained on so far
     * @param skipped clips skipped so far, by reason
     * @param lastLoss the loss of the last step
     */
    public record State(
            @JsonProperty("format") int format,
            @JsonProperty("step") long step,
            @JsonProperty("seed") long seed,
            @JsonProperty("lora_rank") int loraRank,
            @JsonProperty("epoch") int epoch,
            @JsonProperty("line") long line,
            @JsonProperty("clips_seen") long clipsSeen,
            @JsonProperty("skipped") Map<String, Long> skipped,
            @JsonProperty("last_loss") double lastLoss) {
        public State {
            skipped = skipped == null ? Map.of() : Map.copyOf(skipped);
        }

        /** The weights file of this mode. */
        public String weightsFile() {
            return loraRank > 0 ? MOTION_LORA : MOTION_MODULE;
        }
    }

    /** One file in the marker. */
    record FileEntry(
            @JsonProperty("size") long size,
            @JsonProperty("sha256") String sha256) {}

    /** The {@value #COMPLETE} marker. */
    record Manifest(
            @JsonProperty("step") long step,
            @JsonProperty("files") Map<String, FileEntry> files) {}

    /** A checkpoint that passed verification. */
    public record Found(Path dir, State state) {}

    /** {@code <out>/step-<n>}. */
    public static Path dir(Path out, long step) {
        return out.resolve("step-" + step);
    }

    /**
     * Writes a checkpoint atomically and returns its folder. An existing {@code step-<n>} (from a run
     * that went past this step before being resumed from an older checkpoint) is replaced.
     *
     * @param weights the trained tensors by key (motion module or MotionLoRA), with their metadata
     * @param optimizer the optimizer's moments by key
     */
    public static Path write(
            Path out,
            State state,
            Map<String, NDArray> weights,
            Map<String, String> weightsMetadata,
            Map<String, NDArray> optimizer)
            throws IOException {
        Files.createDirectories(out);
        Path target = dir(out, state.step());
        Path tmp = Files.createDirectory(out.resolve(".step-" + state.step() + ".partial-" + random()));
        try {
            // 1. data files, each forced to disk
            SafetensorsWriter.write(tmp.resolve(state.weightsFile()), weights, weightsMetadata);
            SafetensorsWriter.write(
                    tmp.resolve(OPTIMIZER), optimizer, Map.of("format", "pt", "step", Long.toString(state.step())));
            writeForced(tmp.resolve(STATE), JSON.writeValueAsBytes(state));
            // 2. the marker, last
            Map<String, FileEntry> files = new LinkedHashMap<>();
            for (String name : List.of(state.weightsFile(), OPTIMIZER, STATE)) {
                Path f = tmp.resolve(name);
                files.put(name, new FileEntry(Files.size(f), sha256(f)));
            }
            writeForced(tmp.resolve(COMPLETE), JSON.writeValueAsBytes(new Manifest(state.step(), files)));
            // 3. into place
            Path old = null;
            if (Files.exists(target)) {
                old = out.resolve(".step-" + state.step() + ".replaced-" + random());
                move(target, old);
            }
            move(tmp, target);
            forceDirectory(out);
            if (old != null) {
                deleteTree(old);
            }
            return target;
        } catch (IOException | RuntimeException e) {
            try {
                deleteTree(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /**
     * The newest checkpoint in {@code out} that is complete and intact, or empty if there is none.
     * Each newer folder passed over (no marker: interrupted while being written; files not matching
     * the marker, unreadable state) is reported to {@code messages} with the reason.
     */
    public static Optional<Found> newestComplete(Path out, Consumer<String> messages) throws IOException {
        if (!Files.isDirectory(out)) {
            return Optional.empty();
        }
        List<Map.Entry<Long, Path>> candidates = new ArrayList<>();
        try (Stream<Path> s = Files.list(out)) {
            for (Path p : s.toList()) {
                Matcher m = STEP_DIR.matcher(p.getFileName().toString());
                if (m.matches() && Files.isDirectory(p)) {
                    candidates.add(Map.entry(Long.parseLong(m.group(1)), p));
                }
            }
        }
        candidates.sort(Map.Entry.<Long, Path>comparingByKey().reversed());
        for (Map.Entry<Long, Path> c : candidates) {
            Path dir = c.getValue();
            try {
                State state = verify(dir, c.getKey());
                return Optional.of(new Found(dir, state));
            } catch (PartialCheckpointException e) {
                messages.accept("skipping checkpoint " + dir + ": " + e.getMessage());
            } catch (IOException | RuntimeException e) {
                messages.accept("skipping checkpoint " + dir + ": corrupt (" + e.getMessage()
                        + "); it is left in place for inspection, resuming from an older checkpoint");
            }
        }
        return Optional.empty();
    }

    /** Checks the marker and every file it lists; returns the trainer state. */
    static State verify(Path dir, long step) throws IOException {
        Path marker = dir.resolve(COMPLETE);
        if (!Files.isRegularFile(marker)) {
            throw new PartialCheckpointException("no " + COMPLETE + " marker: it was being written when a run"
                    + " stopped and is incomplete; it is left in place, resuming from an older checkpoint");
        }
        Manifest manifest;
        try {
            manifest = JSON.readValue(marker.toFile(), Manifest.class);
        } catch (IOException e) {
            throw new IOException(COMPLETE + " is not a valid marker: " + e.getMessage(), e);
        }
        if (manifest.step() != step
                || manifest.files() == null
                || manifest.files().isEmpty()) {
            throw new IOException(COMPLETE + " names step " + manifest.step() + " and " + manifest.files()
                    + " files for folder step-" + step);
        }
        for (Map.Entry<String, FileEntry> e : manifest.files().entrySet()) {
            Path f = dir.resolve(e.getKey());
            if (!Files.isRegularFile(f)) {
                throw new IOException(e.getKey() + " is missing");
            }
            long size = Files.size(f);
            if (size != e.getValue().size()) {
                throw new IOException(e.getKey() + " has " + size + " bytes, the marker says "
                        + e.getValue().size());
            }
            String sha = sha256(f);
            if (!sha.equals(e.getValue().sha256())) {
                throw new IOException(e.getKey() + " has SHA-256 " + sha + ", the marker says "
                        + e.getValue().sha256());
            }
        }
        if (!manifest.files().containsKey(STATE)) {
            throw new IOException(COMPLETE + " does not list " + STATE);
        }
        State state = JSON.readValue(dir.resolve(STATE).toFile(), State.class);
        if (state.format() != FORMAT) {
            throw new IOException(STATE + " has format " + state.format() + ", this trainer reads format " + FORMAT
                    + ": resume it with the version that wrote it");
        }
        if (state.step() != step) {
            throw new IOException(STATE + " says step " + state.step() + " in folder step-" + step);
        }
        for (String needed : List.of(state.weightsFile(), OPTIMIZER)) {
            if (!manifest.files().containsKey(needed)) {
                throw new IOException(COMPLETE + " does not list " + needed);
            }
        }
        return state;
    }

    /** A folder without its marker. */
    static final class PartialCheckpointException extends IOException {
        private static final long serialVersionUID = 1L;

        PartialCheckpointException(String message) {
            super(message);
        }
    }

    static String sha256(Path f) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(f)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static void writeForced(Path f, byte[] bytes) throws IOException {
        Files.write(f, bytes);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    private static void forceDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException notSupported) {
            // some file systems cannot sync a directory; the rename itself is still atomic
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static String random() {
        return Long.toUnsignedString(RANDOM.nextLong(), 36);
    }
}
