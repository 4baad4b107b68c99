package io.animatediff.engine.world;

import io.animatediff.engine.training.ImageBatch;
import io.animatediff.engine.training.ImageSource;
import io.animatediff.engine.world.MiniWorld.Domain;
import io.animatediff.engine.world.MiniWorld.Scene;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Still frames of the world for image training: each image is one random frame of a random clip
 * (scene, domain, object size and start drawn per image), captioned with its clip's caption — the
 * way image models are trained on frames of captioned video. Batch {@code index} is the same on
 * every call.
 */
public final class WorldStills implements ImageSource {
    private final List<Domain> domains;
    private final MiniWorld.Backdrops backdrops;
    private final int size;
    private final int frames;
    private final long seed;

    /**
     * @param domains the domains drawn from (uniformly)
     * @param size S, frame side in pixels
     * @param frames length of the clips the stills are taken from
     * @param seed the draws' seed
     */
    public WorldStills(List<Domain> domains, int size, int frames, long seed) {
        this(domains, MiniWorld.Backdrops.GREY, size, frames, seed);
    }

    /** Stills of a world whose base domain has {@code backdrops}. */
    public WorldStills(List<Domain> domains, MiniWorld.Backdrops backdrops, int size, int frames, long seed) {
        if (domains.isEmpty()) {
            throw new IllegalArgumentException("stills need at least one domain");
        }
        this.domains = List.copyOf(domains);
        this.backdrops = backdrops;
        this.size = size;
        this.frames = frames;
        this.seed = seed;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public ImageBatch batch(long index, int n) {
        List<Scene> scenes = Scene.all();
        int plane = size * size;
        float[] pixels = new float[n * 3 * plane]; // (N, 3, S, S)
        List<String> captions = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            SplittableRandom r = new SplittableRandom(seed ^ (index * 0x9E3779B97F4A7C15L) ^ (i * 0xBF58476D1CE4E5B9L));
            r = r.split();
            Scene scene = scenes.get(r.nextInt(scenes.size()));
            Domain domain = domains.get(r.nextInt(domains.size()));
            MiniWorld.Clip clip = MiniWorld.render(scene, domain, backdrops, frames, size, r.nextLong());
            int f = r.nextInt(frames);
            int[] rgb = clip.frames().rgb();
            int base = i * 3 * plane;
            for (int p = 0; p < plane; p++) {
                int v = rgb[f * plane + p];
                pixels[base + p] = ((v >> 16) & 0xFF) / 127.5f - 1f;
                pixels[base + plane + p] = ((v >> 8) & 0xFF) / 127.5f - 1f;
                pixels[base + 2 * plane + p] = (v & 0xFF) / 127.5f - 1f;
            }
            captions.add(scene.caption());
        }
        return new ImageBatch(pixels, captions);
    }
}
