package io.animatediff.engine.world;

import io.animatediff.engine.media.Frames;
import io.animatediff.engine.media.GifWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A seeded synthetic video world: one object (a {@link Shape} in a {@link Colour}) on a backdrop of
 * a {@link Domain}, moving one {@link Direction} at {@link #speed} pixels per frame, with a caption
 * such as "a red circle moving left". Sizes scale with the frame: at 32 px the object's side is 8..11
 * px and it moves 2 px per frame, at 64 px 16..23 px and 4 px per frame. The same seed gives the same
 * clip, bit for bit.
 */
public final class MiniWorld {
    /**
     * Pixels per frame of a moving object in a 32 px frame: 2, so that at 64 px (8x8 latents) an object
     * moves half a latent pixel per frame; at a quarter of a latent pixel per frame the motion module
     * drew tracks too short to tell directions apart.
     */
    public static final int SPEED = 2;

    /** Pixels per frame of a moving object in a frame of side {@code size}: {@link #SPEED} per 32 px. */
    public static int speed(int size) {
        return Math.max(1, SPEED * size / 32);
    }

    public enum Shape {
        CIRCLE,
        SQUARE,
        TRIANGLE;

        /** Area over bounding-box area of the drawn shape: pi/4, 1 and 1/2. */
        public double fillRatio() {
            return switch (this) {
                case CIRCLE -> Math.PI / 4;
                case SQUARE -> 1.0;
                case TRIANGLE -> 0.5;
            };
        }

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public enum Colour {
        RED(0xE02020),
        GREEN(0x20B040),
        BLUE(0x2040E0),
        YELLOW(0xE0D020);

        public final int rgb;

        Colour(int rgb) {
            this.rgb = rgb;
        }

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public enum Direction {
        LEFT(-1, 0),
        RIGHT(1, 0),
        UP(0, -1),
        DOWN(0, 1),
        STILL(0, 0);

        public final int dx;
        public final int dy;

        Direction(int dx, int dy) {
            this.dx = dx;
            this.dy = dy;
        }

        public String phrase() {
            return this == STILL ? "standing still" : "moving " + name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The backdrops of a world's base domain, one drawn per clip. {@link #GREY}: one plain light grey,
     * the world of the shipped models (sessions 4-7). {@link #BROAD}: nine plain colours, light to dark,
     * as SD's base covers every kind of scene: a motion module trained on it moves objects on the
     * personalized dusk as well as on its own backdrops (two runs: 0.95 and 1.0 of its accuracy
     * carried over, against 0.60-0.69 in three grey runs), but learns the prompted direction slower.
     * Every backdrop is plain (never violet, never a gradient) and far from every object colour and
     * the eye (a near-white backdrop would swallow the eye).
     */
    public enum Backdrops {
        GREY(List.of(0xC8C8C8)),
        BROAD(List.of(0xC8C8C8, 0xE0B8B8, 0x989898, 0x585858, 0x303030, 0xD8C8A0, 0xA8C0D8, 0x486848, 0x704838));

        private final List<Integer> colours;

        Backdrops(List<Integer> colours) {
            this.colours = colours;
        }

        public List<Integer> colours() {
            return colours;
        }

        /** Every backdrop colour of every world. */
        public static List<Integer> known() {
            return java.util.Arrays.stream(values())
                    .flatMap(b -> b.colours.stream())
                    .distinct()
                    .toList();
        }

        /** The world named {@code name} (grey or broad), for command-line options. */
        public static Backdrops named(String name, String option) {
            return switch (name) {
                case "grey" -> GREY;
                case "broad" -> BROAD;
                default ->
                    throw new IllegalArgumentException(option + " " + name
                            + " is not a base domain of the world: use grey (one light grey, the shipped models')"
                            + " or broad (nine plain colours)");
            };
        }
    }

    /** The base domain (what the base model and the motion module see) and the personalized one. */
    public enum Domain {
        BASE,
        PERSONALIZED;

        /** Dusk's top-left and bottom-right colours. */
        static final int DUSK_FROM = 0x281E46;

        static final int DUSK_TO = 0x5A3C8C;

        /** The backdrop of one clip: BASE one of {@code backdrops} drawn from {@code rnd}, PERSONALIZED dusk (no draw). */
        int drawBackdrop(SplittableRandom rnd, Backdrops backdrops) {
            return this == BASE
                    ? backdrops.colours().get(rnd.nextInt(backdrops.colours().size()))
                    : DUSK_FROM;
        }

        /**
         * Background colour at (x, y) of a frame of side {@code size} with {@code backdrop}: BASE the
         * plain backdrop; PERSONALIZED a dusk, dark violet brightening towards the bottom right.
         * (Diagonal stripes 3 px wide per 32 px were tried first: at 8x8 latents the VAE could only
         * keep them as a texture it then painted over every dark background, and the personalized
         * model's objects broke up on them.)
         */
        public int background(int backdrop, int x, int y, int size) {
            if (this == BASE) {
                return backdrop;
            }
            double t = (x + y) / (2.0 * Math.max(1, size - 1)); // 0 top left .. 1 bottom right
            return lerp(DUSK_FROM, DUSK_TO, t);
        }
    }

    /** Channel-wise a + t (b - a) of two 0xRRGGBB colours, rounded. */
    static int lerp(int a, int b, double t) {
        int out = 0;
        for (int shift = 16; shift >= 0; shift -= 8) {
            int ca = (a >> shift) & 0xFF;
            int cb = (b >> shift) & 0xFF;
            out |= ((int) Math.round(ca + t * (cb - ca))) << shift;
        }
        return out;
    }

    /** What a clip shows: the prompt's attributes. */
    public record Scene(Shape shape, Colour colour, Direction direction) {
        public String caption() {
            return "a " + colour.word() + " " + shape.word() + " " + direction.phrase();
        }

        /** Every scene of the world: shapes x colours x directions. */
        public static List<Scene> all() {
            List<Scene> out = new ArrayList<>();
            for (Shape s : Shape.values()) {
                for (Colour c : Colour.values()) {
                    for (Direction d : Direction.values()) {
                        out.add(new Scene(s, c, d));
                    }
                }
            }
            return out;
        }
    }

    /** One rendered clip. */
    public record Clip(Scene scene, Domain domain, Frames frames) {}

    private MiniWorld() {}

    /**
     * Renders a clip of the grey world: the object's size (a side of 8..11 px per 32 px) and its start
     * (so that it stays inside the frame for all {@code count} frames) are drawn from {@code seed}.
     */
    public static Clip render(Scene scene, Domain domain, int count, int size, long seed) {
        return render(scene, domain, Backdrops.GREY, count, size, seed);
    }

    /**
     * Renders a clip of a world whose base domain has {@code backdrops} (the draw of the backdrop
     * comes last: a clip's object is the same in every world).
     */
    public static Clip render(Scene scene, Domain domain, Backdrops backdrops, int count, int size, long seed) {
        if (count < 1 || size < 16) {
            throw new IllegalArgumentException(
                    "mini world clips need >= 1 frame and a size >= 16 px, got " + count + " frames of " + size);
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        int side = size / 4 + rnd.nextInt(Math.max(1, size / 8));
        int speed = speed(size);
        int travel = speed * (count - 1);
        int margin = 1;
        int span = size - side - 2 * margin;
        if (travel > span) {
            throw new IllegalArgumentException("a " + size + " px frame cannot hold " + count + " frames of motion at "
                    + speed + " px/frame: use fewer frames or a larger size");
        }
        int x0 = margin + startOffset(rnd, scene.direction().dx, span, travel);
        int y0 = margin + startOffset(rnd, scene.direction().dy, span, travel);
        int backdrop = domain.drawBackdrop(rnd, backdrops);
        int[] rgb = new int[count * size * size];
        for (int f = 0; f < count; f++) {
            int ox = x0 + scene.direction().dx * speed * f;
            int oy = y0 + scene.direction().dy * speed * f;
            int base = f * size * size;
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    boolean inside = inside(scene.shape(), x - ox, y - oy, side);
                    rgb[base + y * size + x] = !inside
                            ? domain.background(backdrop, x, y, size)
                            : eye(scene.direction(), x - ox, y - oy, side) ? EYE : scene.colour().rgb;
                }
            }
        }
        return new Clip(scene, domain, new Frames(count, size, size, rgb, 8.0));
    }

    /** Start offset along one axis: room for the whole travel in the moving direction. */
    private static int startOffset(SplittableRandom rnd, int dir, int span, int travel) {
        if (dir > 0) {
            return rnd.nextInt(span - travel + 1);
        }
        if (dir < 0) {
            return travel + rnd.nextInt(span - travel + 1);
        }
        return rnd.nextInt(span + 1);
    }

    /**
     * Is (u, v) in the object's eye? A moving object faces where it goes, as things in real footage
     * do (a car drives nose first): a white square of side s / 3 (at least 1 px) a quarter of the side
     * from the centre towards its direction. A still object has none. It has to be this big: at a fifth of the side an image model trained on
     * the stills did not bother to draw it. This is what makes a direction
     * visible in a single still, so an image model can learn "moving left" from stills and a motion
     * module can learn to move objects the way they face.
     */
    static boolean eye(Direction d, int u, int v, int s) {
        if (d == Direction.STILL) {
            return false;
        }
        int e = Math.max(1, s / 3);
        int cx = s / 2 + d.dx * s / 4;
        int cy = s / 2 + d.dy * s / 4;
        return Math.abs(u - cx) <= e / 2 && Math.abs(v - cy) <= e / 2;
    }

    /** The eye's colour. */
    static final int EYE = 0xF8F8F8;

    /** Is (u, v), relative to the top-left corner of the object's box of side {@code s}, inside the shape? */
    static boolean inside(Shape shape, int u, int v, int s) {
        if (u < 0 || v < 0 || u >= s || v >= s) {
            return false;
        }
        double cx = u + 0.5 - s / 2.0;
        double cy = v + 0.5 - s / 2.0;
        return switch (shape) {
            case SQUARE -> true;
            case CIRCLE -> cx * cx + cy * cy <= (s / 2.0) * (s / 2.0);
            // apex at the top centre, base along the bottom: half the box
            case TRIANGLE -> Math.abs(cx) <= (v + 0.5) / 2.0;
        };
    }

    /**
     * Writes {@code n} clips of {@code domain} (scenes cycled in order, seeds from {@code seed}) as
     * animated GIFs with a {@code clips.jsonl} — the trainer's dataset format — and returns them.
     */
    public static List<Clip> writeDataset(Path dir, int n, int count, int size, Domain domain, long seed)
            throws IOException {
        return writeDataset(dir, n, count, size, domain, Backdrops.GREY, seed);
    }

    /** {@link #writeDataset(Path, int, int, int, Domain, long)} in a world whose base domain has {@code backdrops}. */
    public static List<Clip> writeDataset(
            Path dir, int n, int count, int size, Domain domain, Backdrops backdrops, long seed) throws IOException {
        Files.createDirectories(dir.resolve("videos"));
        List<Scene> scenes = Scene.all();
        List<Clip> clips = new ArrayList<>();
        try (Writer jsonl = Files.newBufferedWriter(dir.resolve("clips.jsonl"), StandardCharsets.UTF_8)) {
            for (int i = 0; i < n; i++) {
                Clip clip = render(scenes.get(i % scenes.size()), domain, backdrops, count, size, seed + i);
                String video = String.format(Locale.ROOT, "videos/clip-%05d.gif", i);
                GifWriter.write(clip.frames(), dir.resolve(video), 0);
                jsonl.write("{\"video\": \"" + video + "\", \"caption\": \""
                        + clip.scene().caption() + "\"}\n");
                clips.add(clip);
            }
        }
        return clips;
    }

    /** The same frames in a random order (Fisher-Yates from {@code rnd}): a clip without its motion. */
    public static Frames shuffled(Frames f, SplittableRandom rnd) {
        int px = f.width() * f.height();
        int[] order = new int[f.count()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        for (int i = order.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[] rgb = new int[f.rgb().length];
        for (int i = 0; i < order.length; i++) {
            System.arraycopy(f.rgb(), order[i] * px, rgb, i * px, px);
        }
        return new Frames(f.count(), f.width(), f.height(), rgb, f.fps());
    }
}
