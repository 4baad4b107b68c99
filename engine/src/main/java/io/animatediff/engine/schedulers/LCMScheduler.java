package io.animatediff.engine.schedulers;

import static io.animatediff.engine.schedulers.Numerics.f32;

import ai.djl.ndarray.NDArray;
import java.util.Arrays;

/**
 * Ports diffusers LCMScheduler (src/diffusers/schedulers/scheduling_lcm.py), the multistep
 * consistency sampler AnimateLCM uses (4-8 steps, guidance 1-2), without thresholding.
 *
 * <p>Notation (Latent Consistency Models, Luo et al. 2023, arXiv 2310.04378): the distillation
 * schedule is t_i = i k - 1 for i = 1..original_inference_steps, k = T / original_inference_steps;
 * n inference steps pick floor(linspace(0, len, n)) of it, high noise first. One step: x_0 =
 * (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t), denoised = c_out x_0 + c_skip x_t with
 * c_skip = sigma_data^2 / ((10 t)^2 + sigma_data^2), c_out = 10 t / sqrt((10 t)^2 + sigma_data^2),
 * sigma_data = 0.5; then, except at the last step, x_prev = sqrt(alphaBar_prev) denoised +
 * sqrt(1 - alphaBar_prev) z with fresh noise z (the sampler is stochastic).
 */
public final class LCMScheduler implements Scheduler {
    /** diffusers' default original_inference_steps. */
    public static final int DEFAULT_ORIGINAL_INFERENCE_STEPS = 50;
    /** diffusers' default timestep_scaling. */
    public static final double DEFAULT_TIMESTEP_SCALING = 10.0;

    private static final double SIGMA_DATA = 0.5;

    private final SchedulerConfig cfg;
    private final int originalInferenceSteps;
    private final double timestepScaling;
    private final double[] alphasCumprod; // (T) float32 values
    private final double finalAlphaCumprod;
    private int[] timesteps;

    public LCMScheduler(SchedulerConfig cfg) {
        this(cfg, DEFAULT_ORIGINAL_INFERENCE_STEPS, DEFAULT_TIMESTEP_SCALING);
    }

    public LCMScheduler(SchedulerConfig cfg, int originalInferenceSteps, double timestepScaling) {
        if (originalInferenceSteps < 1 || originalInferenceSteps > cfg.numTrainTimesteps()) {
            throw new IllegalArgumentException("original_inference_steps = " + originalInferenceSteps
                    + " must lie in [1, num_train_timesteps = " + cfg.numTrainTimesteps() + "]");
        }
        this.cfg = cfg;
        this.originalInferenceSteps = originalInferenceSteps;
        this.timestepScaling = timestepScaling;
        this.alphasCumprod = NoiseSchedule.alphasCumprod(NoiseSchedule.betas(cfg));
        this.finalAlphaCumprod = cfg.setAlphaToOne() ? 1.0 : alphasCumprod[0];
    }

    @Override
    public void setTimesteps(int numInferenceSteps) {
        int k = cfg.numTrainTimesteps() / originalInferenceSteps;
        int len = originalInferenceSteps; // strength 1: the whole distillation schedule
        if (numInferenceSteps < 1 || numInferenceSteps > len) {
            throw new IllegalArgumentException("num_inference_steps = " + numInferenceSteps
                    + " must lie in [1, original_inference_steps = " + len
                    + "]: the LCM schedule is a subset of the distillation schedule");
        }
        int[] origin = new int[len]; // reversed: high noise first
        for (int i = 0; i < len; i++) {
            origin[i] = (len - i) * k - 1;
        }
        double[] idx = Numerics.numpyLinspace(0, len, numInferenceSteps + 1); // endpoint=False
        int[] ts = new int[numInferenceSteps];
        for (int i = 0; i < numInferenceSteps; i++) {
            ts[i] = origin[(int) Math.floor(idx[i])];
        }
        this.timesteps = ts;
    }

    @Override
    public int[] timesteps() {
        requireTimesteps();
        return timesteps.clone();
    }

    @Override
    public double[] modelTimesteps() {
        requireTimesteps();
        return Arrays.stream(timesteps).asDoubleStream().toArray();
    }

    @Override
    public NDArray scaleModelInput(NDArray sample, int stepIndex) {
        requireStep(stepIndex);
        return sample;
    }

    @Override
    public boolean stochastic(int stepIndex) {
        requireStep(stepIndex);
        return stepIndex != timesteps.length - 1;
    }

    /** c_skip and c_out of timestep t (get_scalings_for_boundary_condition_discrete), float32. */
    public double[] boundaryScalings(int timestep) {
        double scaled = f32(timestep * timestepScaling);
        double denom = f32(f32(scaled * scaled) + SIGMA_DATA * SIGMA_DATA);
        double cSkip = f32(SIGMA_DATA * SIGMA_DATA / denom);
        double cOut = f32(scaled / f32(Math.sqrt(denom)));
        return new double[] {cSkip, cOut};
    }

    @Override
    public NDArray step(NDArray modelOutput, int stepIndex, NDArray sample, NDArray noiseOrNull) {
        requireStep(stepIndex);
        Scoped.requireSameShape("model output", modelOutput, sample);
        boolean last = stepIndex == timesteps.length - 1;
        if (!last) {
            if (noiseOrNull == null) {
                throw new IllegalArgumentException("LCM adds fresh noise after every step but the last: pass seeded"
                        + " standard normal noise shaped like the sample");
            }
            Scoped.requireSameShape("noise", noiseOrNull, sample);
        }
        // 1. alphas of t and of the next schedule entry
        int t = timesteps[stepIndex];
        int prev = last ? t : timesteps[stepIndex + 1];
        double alphaProd = alphasCumprod[t];
        double alphaProdPrev = prev >= 0 ? alphasCumprod[prev] : finalAlphaCumprod;
        double sqrtAlpha = f32(Math.sqrt(alphaProd));
        double sqrtBeta = f32(Math.sqrt(f32(1 - alphaProd)));
        double sqrtAlphaPrev = f32(Math.sqrt(alphaProdPrev));
        double sqrtBetaPrev = f32(Math.sqrt(f32(1 - alphaProdPrev)));
        double[] c = boundaryScalings(t);
        return Scoped.compute(sample, () -> {
            // 2. predicted x_0
            NDArray x0 = switch (cfg.predictionType()) {
                case "epsilon" -> sample.sub(modelOutput.mul(sqrtBeta)).div(sqrtAlpha);
                case "sample" -> modelOutput;
                case "v_prediction" -> sample.mul(sqrtAlpha).sub(modelOutput.mul(sqrtBeta));
                default -> throw new IllegalStateException("unvalidated prediction_type " + cfg.predictionType());
            };
            if (cfg.clipSample()) {
                x0 = x0.clip(-cfg.clipSampleRange(), cfg.clipSampleRange());
            }
            // 3. consistency boundary condition, then re-noise to the next timestep
            NDArray denoised = x0.mul(c[1]).add(sample.mul(c[0]));
            return last ? denoised : denoised.mul(sqrtAlphaPrev).add(noiseOrNull.mul(sqrtBetaPrev));
        });
    }

    @Override
    public double initNoiseSigma() {
        return 1.0;
    }

    @Override
    public NDArray addNoise(NDArray original, NDArray noise, int timestep) {
        if (timestep < 0 || timestep >= alphasCumprod.length) {
            throw new IllegalArgumentException(
                    "timestep " + timestep + " outside [0, num_train_timesteps = " + alphasCumprod.length + ")");
        }
        Scoped.requireSameShape("noise", noise, original);
        double alphaProd = alphasCumprod[timestep];
        double sqrtAlpha = f32(Math.sqrt(alphaProd));
        double sqrtOneMinusAlpha = f32(Math.sqrt(f32(1 - alphaProd)));
        return Scoped.compute(original, () -> original.mul(sqrtAlpha).add(noise.mul(sqrtOneMinusAlpha)));
    }

    @Override
    public NDArray addNoiseForStep(NDArray original, NDArray noise, int stepIndex) {
        requireStep(stepIndex);
        return addNoise(original, noise, timesteps[stepIndex]);
    }

    @Override
    public SchedulerConfig config() {
        return cfg;
    }

    private void requireTimesteps() {
        if (timesteps == null) {
            throw new IllegalStateException("call setTimesteps(n) before using the LCM schedule");
        }
    }

    private void requireStep(int stepIndex) {
        requireTimesteps();
        if (stepIndex < 0 || stepIndex >= timesteps.length) {
            throw new IllegalArgumentException(
                    "step index " + stepIndex + " outside [0, " + timesteps.length + ") of the LCM schedule");
        }
    }
}
