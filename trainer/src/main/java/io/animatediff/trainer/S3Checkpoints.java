package io.animatediff.trainer;

import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.ObjectSummary;
import io.animatediff.common.store.PutOptions;
import io.animatediff.engine.training.TrainingCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A training job's checkpoints in the object store: {@code checkpoints/<jobId>/step-<n>/} holding
 * the files of the engine's {@link TrainingCheckpoint} folder, the {@value TrainingCheckpoint#COMPLETE}
 * marker uploaded last (so a prefix without it is an interrupted upload), and validation GIFs under
 * {@code checkpoints/<jobId>/samples/step-<n>/}.
 *
 * <p>Resuming: {@link #restoreNewest} downloads the newest prefix that has its marker into the
 * local output folder, where the engine verifies every file against the marker (size and SHA-256)
 * before training continues from it; prefixes without the marker, or whose files fail that check,
 * are passed over with a message naming them.
 */
public final class S3Checkpoints {
    /** Key prefix of every job's checkpoints. */
    public static final String ROOT = "checkpoints/";

    private static final Pattern STEP = Pattern.compile("step-(\\d+)");

    private final ObjectStore store;
    private final String jobId;

    public S3Checkpoints(ObjectStore store, String jobId) {
        this.store = store;
        this.jobId = jobId;
    }

    /** {@code checkpoints/<jobId>/}. */
    public String prefix() {
        return ROOT + jobId + "/";
    }

    /** {@code checkpoints/<jobId>/step-<n>/}. */
    public String stepPrefix(long step) {
        return prefix() + "step-" + step + "/";
    }

    /** Uploads a complete local checkpoint folder, the marker last; returns the keys written. */
    public List<String> upload(long step, Path dir) {
        List<String> keys = new ArrayList<>();
        Path marker = dir.resolve(TrainingCheckpoint.COMPLETE);
        if (!Files.isRegularFile(marker)) {
            throw new IllegalStateException("checkpoint " + dir + " has no " + TrainingCheckpoint.COMPLETE
                    + " marker: only complete checkpoints are uploaded");
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                if (!f.equals(marker)) {
                    keys.add(put(stepPrefix(step) + f.getFileName(), f));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoint " + dir + ": " + e.getMessage(), e);
        }
        keys.add(put(stepPrefix(step) + TrainingCheckpoint.COMPLETE, marker));
        return keys;
    }

    /** Uploads validation samples to {@code checkpoints/<jobId>/samples/step-<n>/}. */
    public List<String> uploadSamples(long step, List<Path> files) {
        List<String> keys = new ArrayList<>();
        for (Path f : files) {
            keys.add(put(prefix() + "samples/step-" + step + "/" + f.getFileName(), f));
        }
        return keys;
    }

    private String put(String key, Path file) {
        store.put(key, file, PutOptions.DEFAULT);
        return key;
    }

    /**
     * Downloads the newest complete checkpoint into {@code outDir/step-<n>/} and returns its step;
     * empty when there is none. Each newer prefix passed over is reported to {@code messages}.
     */
    public Optional<Long> restoreNewest(Path outDir, Consumer<String> messages) throws IOException {
        Map<Long, List<ObjectSummary>> bySteps = new TreeMap<>(Comparator.reverseOrder());
        for (ObjectSummary o : store.list(prefix())) {
            String rest = o.key().substring(prefix().length());
            int slash = rest.indexOf('/');
            if (slash < 0) {
                continue;
            }
            Matcher m = STEP.matcher(rest.substring(0, slash));
            if (m.matches() && rest.indexOf('/', slash + 1) < 0) {
                bySteps.computeIfAbsent(Long.parseLong(m.group(1)), k -> new ArrayList<>())
                        .add(o);
            }
        }
        for (Map.Entry<Long, List<ObjectSummary>> e : bySteps.entrySet()) {
            long step = e.getKey();
            String where = "s3://" + store.bucket() + "/" + stepPrefix(step);
            boolean complete = e.getValue().stream().anyMatch(o -> o.key().endsWith("/" + TrainingCheckpoint.COMPLETE));
            if (!complete) {
                messages.accept("skipping checkpoint " + where + ": no " + TrainingCheckpoint.COMPLETE
                        + " marker (its upload was interrupted); it is left in place, resuming from an older one");
                continue;
            }
            Path dir = TrainingCheckpoint.dir(outDir, step);
            deleteTree(dir);
            Files.createDirectories(dir);
            for (ObjectSummary o : e.getValue()) {
                String name = o.key().substring(stepPrefix(step).length());
                try (var in = store.get(o.key())) {
                    Files.copy(in, dir.resolve(name));
                }
            }
            Optional<TrainingCheckpoint.Found> found = TrainingCheckpoint.newestComplete(outDir, messages);
            if (found.isPresent() && found.get().state().step() == step) {
                messages.accept("restored checkpoint " + where + " (step " + step + ")");
                return Optional.of(step);
            }
            messages.accept("skipping checkpoint " + where + ": its files do not match its "
                    + TrainingCheckpoint.COMPLETE + " marker; resuming from an older one");
            deleteTree(dir);
        }
        return Optional.empty();
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
