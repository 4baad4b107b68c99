package io.animatediff.engine.training;

import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.GifWriter;
import io.animatediff.engine.media.Mp4Writer;
import io.animatediff.engine.media.PngFrames;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A seeded miniature video world for tests and demos: one coloured shape (circle, square, triangle)
 * moving left, right, up or down across a dark background, captioned like "a red circle moving
 * left" (words of the tiny tokenizer's vocabulary). Written as a dataset folder: the videos (GIF,
 * PNG-frame folder or MP4) and {@code clips.jsonl}.
 */
public final class SyntheticClips {
    /** The container a clip is written in. */
    public enum Kind {
        GIF,
        PNG_FOLDER,
        MP4
    }

    /** One written clip: its relative path and caption. */
    public record Entry(String video, String caption) {}

    private static final Map<String, Integer> COLOURS = new LinkedHashMap<>();

    static {
        COLOURS.put("red", 0xE02020);
        COLOURS.put("green", 0x20C040);
        COLOURS.put("blue", 0x3050F0);
        COLOURS.put("yellow", 0xF0E030);
        COLOURS.put("white", 0xF0F0F0);
        COLOURS.put("purple", 0xA040D0);
        COLOURS.put("orange", 0xF09020);
    }

    private static final List<String> SHAPES = List.of("circle", "square", "triangle");
    private static final List<String> DIRECTIONS = List.of("left", "right", "up", "down");
    private static final int BACKGROUND = 0x202428;

    private SyntheticClips() {}

    /** Writes {@code n} clips alternating GIF and PNG-frame folders; see {@link #write(Path, int, int, int, long, List)}. */
    public static List<Entry> write(Path dir, int n, int frames, int size, long seed) throws IOException {
        return write(dir, n, frames, size, seed, List.of(Kind.GIF, Kind.PNG_FOLDER));
    }

    /**
     * Writes {@code n} clips of {@code frames} frames of {@code size} x {@code size} pixels into
     * {@code dir} (clip i in {@code kinds[i % kinds.size()]}) and {@code dir/clips.jsonl}; the same
     * seed writes the same pixels.
     */
    public static List<Entry> write(Path dir, int n, int frames, int size, long seed, List<Kind> kinds)
            throws IOException {
        if (n < 1 || frames < 2 || size < 8 || kinds.isEmpty()) {
            throw new IllegalArgumentException("synthetic clips: n " + n + " >= 1, frames " + frames + " >= 2, size "
                    + size + " >= 8 and at least one kind are needed");
        }
        Files.createDirectories(dir);
        List<String> colours = new ArrayList<>(COLOURS.keySet());
        List<Entry> entries = new ArrayList<>();
        StringBuilder jsonl = new StringBuilder();
        for (int i = 0; i < n; i++) {
            SplittableRandom r = new SplittableRandom(SeedStreams.mix(seed * 31 + i));
            String colour = colours.get(r.nextInt(colours.size()));
            String shape = SHAPES.get(r.nextInt(SHAPES.size()));
            String direction = DIRECTIONS.get(r.nextInt(DIRECTIONS.size()));
            Frames video = render(COLOURS.get(colour), shape, direction, frames, size, r);
            Kind kind = kinds.get(i % kinds.size());
            String name = String.format(Locale.ROOT, "clip-%04d", i);
            String rel;
            switch (kind) {
                case GIF -> {
                    rel = name + ".gif";
                    GifWriter.write(video, dir.resolve(rel), 0);
                }
                case PNG_FOLDER -> {
                    rel = name;
                    PngFrames.write(video, dir.resolve(rel));
                }
                case MP4 -> {
                    rel = name + ".mp4";
                    Mp4Writer.write(video, dir.resolve(rel));
                }
                default -> throw new IllegalArgumentException("unknown kind " + kind);
            }
            String caption = "a " + colour + " " + shape + " moving " + direction;
            entries.add(new Entry(rel, caption));
            jsonl.append("{\"video\": \"")
                    .append(rel)
                    .append("\", \"caption\": \"")
                    .append(caption)
                    .append("\"}\n");
        }
        Files.writeString(dir.resolve(DatasetSource.INDEX), jsonl.toString(), StandardCharsets.UTF_8);
        return entries;
    }

    /** The shape's path spans the frame along its direction at a constant speed, at a random offset across it. */
    private static Frames render(int colour, String shape, String direction, int frames, int size, SplittableRandom r) {
        double radius = size / 5.0;
        double travel = size - 2 * radius - 2;
        double across = radius + 1 + r.nextDouble() * travel;
        int[] rgb = new int[frames * size * size];
        for (int f = 0; f < frames; f++) {
            double along = radius + 1 + travel * f / (frames - 1);
            double cx;
            double cy;
            switch (direction) {
                case "left" -> {
                    cx = size - along;
                    cy = across;
                }
                case "right" -> {
                    cx = along;
                    cy = across;
                }
                case "up" -> {
                    cx = across;
                    cy = size - along;
                }
                default -> {
                    cx = across;
                    cy = along;
                }
            }
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    double dx = x + 0.5 - cx;
                    double dy = y + 0.5 - cy;
                    boolean inside = switch (shape) {
                        case "circle" -> dx * dx + dy * dy <= radius * radius;
                        case "square" -> Math.abs(dx) <= radius * 0.85 && Math.abs(dy) <= radius * 0.85;
                        default -> dy <= radius * 0.8 && dy >= -radius && Math.abs(dx) <= (dy + radius) * 0.6;
                    };
                    rgb[(f * size + y) * size + x] = inside ? colour : BACKGROUND;
                }
            }
        }
        return new Frames(frames, size, size, rgb, 8.0);
    }
}
