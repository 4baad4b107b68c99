package io.animatediff.engine.training;

/**
 * Counter-based seeds: each random draw of a run is seeded by (run seed, purpose, two counters)
 * through SplitMix64's finaliser, so no generator carries state from one step to the next and a
 * resumed run repeats the uninterrupted run's draws exactly.
 */
public final class SeedStreams {
    /** What a seed is for; each purpose is an independent stream. */
    public enum Purpose {
        /** A clip's start frame and flip: counters (epoch, line). */
        CLIP,
        /** Caption dropout: counters (step, sample). */
        CAPTION,
        /** Timesteps: counters (step, micro-batch). */
        TIMESTEP,
        /** Training noise: counters (step, micro-batch). */
        NOISE,
        /** The VAE's latent sample: counters (step, micro-batch). */
        LATENT,
        /** Fresh motion-module weights: counters (0, 0). */
        FRESH_MOTION,
        /** Fresh LoRA weights: counters (adapter index, 0). */
        LORA
    }

    private SeedStreams() {}

    /** The seed of draw (a, b) of {@code purpose} in the run seeded {@code runSeed}. */
    public static long seed(long runSeed, Purpose purpose, long a, long b) {
        long h = mix(runSeed ^ 0x243F6A8885A308D3L);
        h = mix(h ^ (purpose.ordinal() + 1) * 0x9E3779B97F4A7C15L);
        h = mix(h ^ a * 0xBF58476D1CE4E5B9L);
        return mix(h ^ b * 0x94D049BB133111EBL);
    }

    /** SplitMix64's finaliser (Steele, Lea, Flood 2014). */
    static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
