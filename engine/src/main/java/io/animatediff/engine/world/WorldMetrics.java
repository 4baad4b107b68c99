package io.animatediff.engine.world;

import io.animatediff.engine.media.Frames;
import io.animatediff.engine.world.MiniWorld.Colour;
import io.animatediff.engine.world.MiniWorld.Direction;
import io.animatediff.engine.world.MiniWorld.Domain;
import io.animatediff.engine.world.MiniWorld.Scene;
import io.animatediff.engine.world.MiniWorld.Shape;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Judges a clip against the scene its prompt asked for, deterministically and without a learned
 * model: the background palette is read from the frame's outer ring of pixels; object pixels are
 * those far from every ring colour; the object is tracked by its centroid. Motion: the centroid's
 * displacement from the first to the last frames, still below a quarter of the expected travel.
 * Domain: the known backdrop the ring is nearest to, pixel by pixel (the personalized dusk gradient
 * or one of the base domain's plain backdrops, which run from light to dark in the broad world). Colour:
 * the object's mean colour, nearest of the palette. Shape: the object's fill of its bounding box.
 */
public final class WorldMetrics {
    /** RGB distance from every background colour above which a pixel belongs to the object. */
    static final double OBJECT_DISTANCE = 60.0;
    /** Fewer object pixels than this in a frame: nothing found in that frame. */
    static final int MIN_PIXELS = 4;

    private WorldMetrics() {}

    private static final java.util.regex.Pattern JSON_ROW = java.util.regex.Pattern.compile(
            "\\{\"row\": \"(.*)\", \"clips\": (\\d+), \"motion_accuracy\": ([0-9.]+), \"personalized_frames\": ([0-9.]+),"
                    + " \"temporal_consistency\": ([0-9.]+), \"colour_accuracy\": ([0-9.]+), \"shape_accuracy\": ([0-9.]+)\\}");

    /** Rows as {@link Row#json()} wrote them, one per line. */
    public static List<Row> readJsonLines(String text) {
        List<Row> out = new java.util.ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            java.util.regex.Matcher m = JSON_ROW.matcher(line.strip());
            if (!m.matches()) {
                throw new IllegalArgumentException("not a table row written by evaluate --json: " + line);
            }
            out.add(new Row(
                    m.group(1),
                    Integer.parseInt(m.group(2)),
                    Double.parseDouble(m.group(3)),
                    Double.parseDouble(m.group(4)),
                    Double.parseDouble(m.group(5)),
                    Double.parseDouble(m.group(6)),
                    Double.parseDouble(m.group(7))));
        }
        return out;
    }

    /** What was seen in one clip. */
    public record ClipReading(
            boolean objectFound,
            Direction direction,
            double personalizedFrames,
            Colour colour,
            Shape shape,
            double consistentFrames) {}

    /** One row of the evaluation table: shares over clips (frames for the domain), each in [0, 1]. */
    public record Row(
            String name,
            int clips,
            double motionAccuracy,
            double personalizedFrames,
            double temporalConsistency,
            double colourAccuracy,
            double shapeAccuracy) {
        public String json() {
            return String.format(
                    Locale.ROOT,
                    "{\"row\": \"%s\", \"clips\": %d, \"motion_accuracy\": %.4f, \"personalized_frames\": %.4f,"
                            + " \"temporal_consistency\": %.4f, \"colour_accuracy\": %.4f, \"shape_accuracy\": %.4f}",
                    name,
                    clips,
                    motionAccuracy,
                    personalizedFrames,
                    temporalConsistency,
                    colourAccuracy,
                    shapeAccuracy);
        }
    }

    /** Share of the centres' variance a coherent motion's line must explain. */
    static final double MIN_R2 = 0.6;

    /** Reads one clip. */
    public static ClipReading read(Frames clip) {
        int w = clip.width();
        int h = clip.height();
        int[] ringIndex = ringIndex(w, h);
        int[] dusk = duskRing(ringIndex, w);
        int[] ring;
        double[] cx = new double[clip.count()];
        double[] cy = new double[clip.count()];
        int[] area = new int[clip.count()];
        double[] fill = new double[clip.count()];
        long sumR = 0;
        long sumG = 0;
        long sumB = 0;
        long objectPixels = 0;
        int personalized = 0;
        int found = 0;
        for (int f = 0; f < clip.count(); f++) {
            ring = ring(clip, f, ringIndex);
            if (nearerDusk(ring, dusk)) {
                personalized++;
            }
            int base = f * w * h;
            double sx = 0;
            double sy = 0;
            int n = 0;
            int minX = w;
            int minY = h;
            int maxX = -1;
            int maxY = -1;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int p = clip.rgb()[base + y * w + x];
                    if (distanceToNearest(p, ring) > OBJECT_DISTANCE) {
                        n++;
                        sx += x;
                        sy += y;
                        minX = Math.min(minX, x);
                        maxX = Math.max(maxX, x);
                        minY = Math.min(minY, y);
                        maxY = Math.max(maxY, y);
                        sumR += (p >> 16) & 0xFF;
                        sumG += (p >> 8) & 0xFF;
                        sumB += p & 0xFF;
                    }
                }
            }
            area[f] = n;
            if (n >= MIN_PIXELS) {
                found++;
                cx[f] = sx / n;
                cy[f] = sy / n;
                fill[f] = n / (double) ((maxX - minX + 1) * (maxY - minY + 1));
                objectPixels += n;
            } else {
                cx[f] = Double.NaN;
                cy[f] = Double.NaN;
                fill[f] = Double.NaN;
            }
        }
        double personalizedShare = personalized / (double) clip.count();
        if (found * 2 < clip.count() || objectPixels == 0) {
            return new ClipReading(false, null, personalizedShare, null, null, 0.0);
        }
        Colour colour =
                nearestColour((int) (sumR / objectPixels), (int) (sumG / objectPixels), (int) (sumB / objectPixels));
        Shape shape = nearestShape(median(fill));
        Direction direction = direction(cx, cy, MiniWorld.speed(w));
        double medianArea = median(Arrays.stream(area).asDoubleStream().toArray());
        int consistent = 0;
        for (int a : area) {
            if (a >= MIN_PIXELS && Math.abs(a - medianArea) <= 0.25 * medianArea) {
                consistent++;
            }
        }
        return new ClipReading(true, direction, personalizedShare, colour, shape, consistent / (double) clip.count());
    }

    /** Scores clips generated for {@code scenes} (same order) as one table row. */
    public static Row row(String name, List<Scene> scenes, List<Frames> clips) {
        if (scenes.size() != clips.size() || scenes.isEmpty()) {
            throw new IllegalArgumentException(
                    "a row needs one clip per scene, got " + clips.size() + " clips for " + scenes.size() + " scenes");
        }
        double motion = 0;
        double personalized = 0;
        double consistency = 0;
        double colour = 0;
        double shape = 0;
        for (int i = 0; i < scenes.size(); i++) {
            Scene s = scenes.get(i);
            ClipReading r = read(clips.get(i));
            personalized += r.personalizedFrames();
            if (!r.objectFound()) {
                continue;
            }
            motion += r.direction() == s.direction() ? 1 : 0;
            consistency += r.consistentFrames();
            colour += r.colour() == s.colour() ? 1 : 0;
            shape += r.shape() == s.shape() ? 1 : 0;
        }
        int n = scenes.size();
        return new Row(name, n, motion / n, personalized / n, consistency / n, colour / n, shape / n);
    }

    /** The domain a clip's frames mostly show. */
    public static Domain domain(ClipReading r) {
        return r.personalizedFrames() >= 0.5 ? Domain.PERSONALIZED : Domain.BASE;
    }

    /**
     * The direction of a least-squares line through the object's centres over frame index: STILL when
     * the fitted travel is under a quarter of the world's (at least 1 px); otherwise the dominant axis
     * and sign, provided the motion is coherent (the line explains at least {@value #MIN_R2} of the
     * centres' variance along that axis). Incoherent motion (objects jumping about, shuffled frames)
     * has no direction: null.
     */
    private static Direction direction(double[] cx, double[] cy, int speed) {
        int first = firstFound(cx, 0, 1);
        int last = firstFound(cx, cx.length - 1, -1);
        double[] fx = fit(cx);
        double[] fy = fit(cy);
        double dx = fx[0] * (last - first);
        double dy = fy[0] * (last - first);
        double expected = speed * (double) (last - first);
        if (Math.max(Math.abs(dx), Math.abs(dy)) < Math.max(1.0, 0.25 * expected)) {
            return Direction.STILL;
        }
        boolean horizontal = Math.abs(dx) >= Math.abs(dy);
        if ((horizontal ? fx[1] : fy[1]) < MIN_R2) {
            return null;
        }
        if (horizontal) {
            return dx < 0 ? Direction.LEFT : Direction.RIGHT;
        }
        return dy < 0 ? Direction.UP : Direction.DOWN;
    }

    /** Least squares v[i] = a + slope * i over the non-NaN entries: {slope, R^2} (R^2 = 1 when v is constant). */
    private static double[] fit(double[] v) {
        double n = 0;
        double si = 0;
        double sv = 0;
        for (int i = 0; i < v.length; i++) {
            if (!Double.isNaN(v[i])) {
                n++;
                si += i;
                sv += v[i];
            }
        }
        double mi = si / n;
        double mv = sv / n;
        double sii = 0;
        double siv = 0;
        double svv = 0;
        for (int i = 0; i < v.length; i++) {
            if (!Double.isNaN(v[i])) {
                sii += (i - mi) * (i - mi);
                siv += (i - mi) * (v[i] - mv);
                svv += (v[i] - mv) * (v[i] - mv);
            }
        }
        double slope = sii == 0 ? 0 : siv / sii;
        double r2 = svv == 0 ? 1 : (siv * siv) / (sii * svv);
        return new double[] {slope, r2};
    }

    private static int firstFound(double[] v, int from, int step) {
        for (int i = from; i >= 0 && i < v.length; i += step) {
            if (!Double.isNaN(v[i])) {
                return i;
            }
        }
        throw new IllegalStateException("no frame with an object");
    }

    /** Pixel indices (y * w + x) of a frame's outer one-pixel ring. */
    private static int[] ringIndex(int w, int h) {
        int[] out = new int[2 * w + 2 * (h - 2)];
        int k = 0;
        for (int x = 0; x < w; x++) {
            out[k++] = x;
            out[k++] = (h - 1) * w + x;
        }
        for (int y = 1; y < h - 1; y++) {
            out[k++] = y * w;
            out[k++] = y * w + w - 1;
        }
        return out;
    }

    /** Pixels of the ring of frame {@code f}. */
    private static int[] ring(Frames clip, int f, int[] ringIndex) {
        int base = f * clip.width() * clip.height();
        int[] out = new int[ringIndex.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = clip.rgb()[base + ringIndex[k]];
        }
        return out;
    }

    /** The personalized domain's dusk on the ring of a frame of width {@code w}. */
    private static int[] duskRing(int[] ringIndex, int w) {
        int[] out = new int[ringIndex.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = Domain.PERSONALIZED.background(0, ringIndex[k] % w, ringIndex[k] / w, w);
        }
        return out;
    }

    /**
     * Is the ring nearer the dusk gradient than every plain backdrop of the base domain (mean RGB
     * distance over the ring's pixels, each against the template's pixel at the same place)?
     */
    private static boolean nearerDusk(int[] ring, int[] dusk) {
        double toDusk = 0;
        List<Integer> plain = MiniWorld.Backdrops.known();
        double[] toPlain = new double[plain.size()];
        for (int k = 0; k < ring.length; k++) {
            toDusk += distance(ring[k], dusk[k]);
            for (int b = 0; b < toPlain.length; b++) {
                toPlain[b] += distance(ring[k], plain.get(b));
            }
        }
        return toDusk < Arrays.stream(toPlain).min().orElseThrow();
    }

    private static double distanceToNearest(int p, int[] palette) {
        double best = Double.MAX_VALUE;
        for (int q : palette) {
            best = Math.min(best, distance(p, q));
        }
        return best;
    }

    private static double distance(int p, int q) {
        int dr = ((p >> 16) & 0xFF) - ((q >> 16) & 0xFF);
        int dg = ((p >> 8) & 0xFF) - ((q >> 8) & 0xFF);
        int db = (p & 0xFF) - (q & 0xFF);
        return Math.sqrt(dr * dr + dg * dg + db * db);
    }

    private static Colour nearestColour(int r, int g, int b) {
        int p = (r << 16) | (g << 8) | b;
        Colour best = Colour.RED;
        for (Colour c : Colour.values()) {
            if (distance(p, c.rgb) < distance(p, best.rgb)) {
                best = c;
            }
        }
        return best;
    }

    private static Shape nearestShape(double fill) {
        Shape best = Shape.CIRCLE;
        for (Shape s : Shape.values()) {
            if (Math.abs(fill - s.fillRatio()) < Math.abs(fill - best.fillRatio())) {
                best = s;
            }
        }
        return best;
    }

    private static double median(double[] values) {
        double[] v =
                Arrays.stream(values).filter(d -> !Double.isNaN(d)).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
