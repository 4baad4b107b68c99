package io.animatediff.engine.schedulers;

import ai.djl.ndarray.NDArray;

/**
 * A diffusion sampler: {@link #setTimesteps} once per run, then per step i = 0..n-1 feed the model
 * {@code scaleModelInput(x, i)} at {@code modelTimesteps()[i]} and advance with {@code step}.
 * Tensors may have any shape (the pipeline passes latents (B, C, F, H, W)); the model output, the
 * sample and any noise share one shape. Results are new arrays on the sample's NDManager (inputs
 * are never modified or closed: the caller closes a sample it no longer needs); intermediates are
 * closed before each call returns. Instances hold per-run state: one per job, not shared across
 * threads.
 */
public interface Scheduler {

    /** Chooses the inference timesteps; 1 <= numInferenceSteps <= num_train_timesteps. */
    void setTimesteps(int numInferenceSteps);

    /** The inference timesteps, high noise first (integers; Euler's fractional ones rounded). */
    int[] timesteps();

    /**
     * The timestep values to give the denoising model, as diffusers passes them: equal to
     * {@link #timesteps()} for DDIM, fractional for Euler with "linspace" spacing or Karras sigmas.
     */
    double[] modelTimesteps();

    /** The number of inference steps n (the length of the timestep schedule). */
    default int numSteps() {
        return timesteps().length;
    }

    /**
     * The model input for step {@code stepIndex}: Euler divides by sqrt(sigma^2 + 1) (a new array), DDIM
     * returns the sample itself.
     */
    NDArray scaleModelInput(NDArray sample, int stepIndex);

    /**
     * One denoising step from the model output at step {@code stepIndex}; returns x_{t-1}.
     *
     * @param noiseOrNull standard normal noise shaped like the sample, required when the step is
     *     stochastic (DDIM with eta > 0) and ignored otherwise
     */
    NDArray step(NDArray modelOutput, int stepIndex, NDArray sample, NDArray noiseOrNull);

    /**
     * Whether {@link #step} at {@code stepIndex} needs fresh standard normal noise by construction
     * (LCM re-noises after every step but the last); DDIM with eta > 0 is told by its eta.
     */
    default boolean stochastic(int stepIndex) {
        return false;
    }

    /** Standard deviation of the initial latent noise (1 for DDIM, the largest sigma for Euler). */
    double initNoiseSigma();

    /**
     * Forward diffusion to training timestep {@code timestep} (diffusers add_noise): DDIM
     * sqrt(alphaBar_t) x_0 + sqrt(1 - alphaBar_t) eps; Euler x_0 + sigma eps, where t must be one of
     * the current schedule's timesteps (any 0..T-1 before {@link #setTimesteps}).
     */
    NDArray addNoise(NDArray original, NDArray noise, int timestep);

    /**
     * Forward diffusion to the noise level of schedule step {@code stepIndex}, the starting point of
     * video-to-video that then denoises steps stepIndex..n-1 (diffusers add_noise after
     * set_begin_index).
     */
    NDArray addNoiseForStep(NDArray original, NDArray noise, int stepIndex);

    /** The configuration in effect (timestep_spacing resolved to the scheduler's default when absent). */
    SchedulerConfig config();

    /**
     * Creates a scheduler by name.
     *
     * @param name "ddim", "euler" or "lcm"
     * @param eta DDIM's stochasticity in [0, 1] (0 deterministic, 1 DDPM-like); must be 0 otherwise
     */
    static Scheduler create(String name, SchedulerConfig cfg, double eta) {
        return switch (name) {
            case "ddim" -> new DDIMScheduler(cfg, eta);
            case "euler" -> {
                if (eta != 0) {
                    throw new IllegalArgumentException("eta = " + eta
                            + " applies to the ddim scheduler only; the euler scheduler is deterministic: pass eta 0");
                }
                yield new EulerDiscreteScheduler(cfg);
            }
            case "lcm" -> {
                if (eta != 0) {
                    throw new IllegalArgumentException("eta = " + eta
                            + " applies to the ddim scheduler only; the lcm scheduler draws its own noise: pass eta 0");
                }
                yield new LCMScheduler(cfg);
            }
            default ->
                throw new IllegalArgumentException(
                        "unknown scheduler \"" + name + "\"; use \"ddim\", \"euler\" or \"lcm\"");
        };
    }
}
