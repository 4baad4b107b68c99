package io.animatediff.engine.schedulers;

import static io.animatediff.engine.schedulers.Numerics.f32;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * Ports diffusers DDIMScheduler (src/diffusers/schedulers/scheduling_ddim.py), without dynamic
 * thresholding.
 *
 * <p>Notation (DDIM, Song et al. 2020, arXiv 2010.02502, eq. 12 and 16): alphaBar_t =
 * alphas_cumprod[t]; from the model output the step predicts x_0 ("pred_original_sample") and eps
 * ("pred_epsilon"), then x_{t-1} = sqrt(alphaBar_prev) x_0 + sqrt(1 - alphaBar_prev - sigma_t^2) eps +
 * sigma_t z with sigma_t = eta sqrt((1 - alphaBar_prev) / (1 - alphaBar_t)) sqrt(1 - alphaBar_t /
 * alphaBar_prev), where prev = t - T / n as in diffusers (for every spacing) and alphaBar_prev of a
 * negative prev is 1 (set_alpha_to_one) or alphaBar_0.
 *
 * <p>Scalars follow diffusers' float32 arithmetic; tensor math runs in the sample's dtype.
 */
public final class DDIMScheduler implements Scheduler {
    private final SchedulerConfig cfg;
    private final double eta;
    private final double[] alphasCumprod; // (T) float32 values
    private final double finalAlphaCumprod;
    private int numInferenceSteps; // 0 until setTimesteps
    private int[] timesteps;

    public DDIMScheduler(SchedulerConfig cfg, double eta) {
        if (!(eta >= 0 && eta <= 1)) {
            throw new IllegalArgumentException(
                    "DDIM eta = " + eta + " must lie in [0, 1] (0 deterministic DDIM, 1 DDPM-like sampling)");
        }
        this.cfg = cfg.with(java.util.Map.of("timestep_spacing", cfg.timestepSpacingOr("leading")));
        this.eta = eta;
        this.alphasCumprod = NoiseSchedule.alphasCumprod(NoiseSchedule.betas(cfg));
        this.finalAlphaCumprod = cfg.setAlphaToOne() ? 1.0 : alphasCumprod[0];
    }

    @Override
    public void setTimesteps(int numInferenceSteps) {
        int t = cfg.numTrainTimesteps();
        if (numInferenceSteps < 1 || numInferenceSteps > t) {
            throw new IllegalArgumentException(
                    "num_inference_steps = " + numInferenceSteps + " must lie in [1, num_train_timesteps = " + t + "]");
        }
        int n = numInferenceSteps;
        int[] ts = new int[n];
        switch (cfg.timestepSpacing()) {
            case "linspace" -> {
                double[] lin = Numerics.numpyLinspace(0, t - 1, n);
                for (int i = 0; i < n; i++) {
                    ts[i] = (int) Math.rint(lin[n - 1 - i]);
                }
            }
            case "leading" -> {
                int ratio = t / n;
                for (int i = 0; i < n; i++) {
                    ts[i] = (n - 1 - i) * ratio + cfg.stepsOffset();
                }
            }
            case "trailing" -> {
                // numpy.arange(T, 0, -T/n) sometimes yields n + 1 values (the extra one rounds to
                // timestep -1 in diffusers); we keep the intended first n.
                double[] ar = Numerics.numpyArange(t, -(double) t / n, n);
                for (int i = 0; i < n; i++) {
                    ts[i] = (int) Math.rint(ar[i]) - 1;
                }
            }
            default -> throw new IllegalStateException("unvalidated timestep_spacing " + cfg.timestepSpacing());
        }
        for (int ti : ts) {
            if (ti < 0 || ti >= t) {
                throw new IllegalArgumentException("timestep " + ti + " of " + n + " \"" + cfg.timestepSpacing()
                        + "\" steps with steps_offset " + cfg.stepsOffset() + " falls outside [0, " + (t - 1)
                        + "]; lower steps_offset or change the step count");
            }
        }
        this.numInferenceSteps = n;
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
    public NDArray step(NDArray modelOutput, int stepIndex, NDArray sample, NDArray noiseOrNull) {
        requireStep(stepIndex);
        Scoped.requireSameShape("model output", modelOutput, sample);
        if (eta > 0) {
            if (noiseOrNull == null) {
                throw new IllegalArgumentException("DDIM with eta = " + eta
                        + " adds noise at each step: pass seeded standard normal noise shaped like the sample");
            }
            Scoped.requireSameShape("noise", noiseOrNull, sample);
        }
        // 1. previous timestep (t - T / n, for every spacing, as diffusers)
        int t = timesteps[stepIndex];
        int prev = t - cfg.numTrainTimesteps() / numInferenceSteps;
        // 2. alphas and betas
        double alphaProdT = alphasCumprod[t];
        double alphaProdPrev = prev >= 0 ? alphasCumprod[prev] : finalAlphaCumprod;
        double betaProdT = f32(1 - alphaProdT);
        double sqrtAlpha = f32(Math.sqrt(alphaProdT));
        double sqrtBeta = f32(Math.sqrt(betaProdT));
        // 5. sigma_t(eta), eq. 16
        double stdDev = f32(f32(eta) * f32(Math.sqrt(variance(t, prev))));
        double directionCoef = f32(Math.sqrt(f32(f32(1 - alphaProdPrev) - f32(stdDev * stdDev))));
        double sqrtAlphaPrev = f32(Math.sqrt(alphaProdPrev));
        return Scoped.compute(sample, () -> {
            // 3. predicted x_0 and eps, eq. 12
            NDArray predOriginal;
            NDArray predEpsilon;
            switch (cfg.predictionType()) {
                case "epsilon" -> {
                    predOriginal = sample.sub(modelOutput.mul(sqrtBeta)).div(sqrtAlpha);
                    predEpsilon = modelOutput;
                }
                case "sample" -> {
                    predOriginal = modelOutput;
                    predEpsilon = sample.sub(predOriginal.mul(sqrtAlpha)).div(sqrtBeta);
                }
                case "v_prediction" -> {
                    predOriginal = sample.mul(sqrtAlpha).sub(modelOutput.mul(sqrtBeta));
                    predEpsilon = modelOutput.mul(sqrtAlpha).add(sample.mul(sqrtBeta));
                }
                default -> throw new IllegalStateException("unvalidated prediction_type " + cfg.predictionType());
            }
            // 4. clip x_0
            if (cfg.clipSample()) {
                predOriginal = predOriginal.clip(-cfg.clipSampleRange(), cfg.clipSampleRange());
            }
            // 6. direction pointing to x_t; 7. x_{t-1} without noise
            NDArray direction = predEpsilon.mul(directionCoef);
            NDArray prevSample = predOriginal.mul(sqrtAlphaPrev).add(direction);
            if (eta > 0) {
                prevSample = prevSample.add(noiseOrNull.mul(stdDev));
            }
            return prevSample;
        });
    }

    /** sigma_t^2 / eta^2 = (1 - alphaBar_prev) / (1 - alphaBar_t) * (1 - alphaBar_t / alphaBar_prev) (_get_variance). */
    double variance(int timestep, int prevTimestep) {
        double alphaProdT = alphasCumprod[timestep];
        double alphaProdPrev = prevTimestep >= 0 ? alphasCumprod[prevTimestep] : finalAlphaCumprod;
        double betaProdT = f32(1 - alphaProdT);
        double betaProdPrev = f32(1 - alphaProdPrev);
        return f32(f32(betaProdPrev / betaProdT) * f32(1 - f32(alphaProdT / alphaProdPrev)));
    }

    @Override
    public double initNoiseSigma() {
        return 1.0;
    }

    @Override
    public NDArray addNoise(NDArray original, NDArray noise, int timestep) {
        requireTrainTimestep(timestep);
        Scoped.requireSameShape("noise", noise, original);
        double alphaProd = alphasCumprod[timestep];
        double sqrtAlpha = f32(Math.sqrt(alphaProd));
        double sqrtOneMinusAlpha = f32(Math.sqrt(f32(1 - alphaProd)));
        return Scoped.compute(original, () -> original.mul(sqrtAlpha).add(noise.mul(sqrtOneMinusAlpha)));
    }

    /**
     * Forward diffusion with one timestep per batch element (axis 0), for training: original and
     * noise (B, ...), timesteps (B).
     */
    public NDArray addNoise(NDArray original, NDArray noise, int[] timesteps) {
        Scoped.requireSameShape("noise", noise, original);
        Shape shape = original.getShape();
        if (shape.dimension() == 0 || shape.get(0) != timesteps.length) {
            throw new IllegalArgumentException(
                    timesteps.length + " timesteps given for a batch of shape " + shape + "; pass one per element");
        }
        float[] sqrtAlpha = new float[timesteps.length];
        float[] sqrtOneMinusAlpha = new float[timesteps.length];
        for (int b = 0; b < timesteps.length; b++) {
            requireTrainTimestep(timesteps[b]);
            double alphaProd = alphasCumprod[timesteps[b]];
            sqrtAlpha[b] = (float) Math.sqrt(alphaProd);
            sqrtOneMinusAlpha[b] = (float) Math.sqrt(f32(1 - alphaProd));
        }
        long[] coefShape = new long[shape.dimension()];
        Arrays.fill(coefShape, 1);
        coefShape[0] = timesteps.length; // (B, 1, ..., 1)
        return Scoped.compute(original, () -> {
            var manager = original.getManager();
            NDArray a = manager.create(sqrtAlpha, new Shape(coefShape)).toType(original.getDataType(), false);
            NDArray s = manager.create(sqrtOneMinusAlpha, new Shape(coefShape)).toType(original.getDataType(), false);
            return original.mul(a).add(noise.mul(s));
        });
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

    /** DDIM's eta (0 deterministic). */
    public double eta() {
        return eta;
    }

    /** alphas_cumprod (T), float32 values, a copy. */
    public double[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    private void requireTimesteps() {
        if (timesteps == null) {
            throw new IllegalStateException("call setTimesteps(n) before using the DDIM schedule");
        }
    }

    private void requireStep(int stepIndex) {
        requireTimesteps();
        if (stepIndex < 0 || stepIndex >= timesteps.length) {
            throw new IllegalArgumentException(
                    "step index " + stepIndex + " outside [0, " + timesteps.length + ") of the DDIM schedule");
        }
    }

    private void requireTrainTimestep(int timestep) {
        if (timestep < 0 || timestep >= alphasCumprod.length) {
            throw new IllegalArgumentException(
                    "timestep " + timestep + " outside [0, num_train_timesteps = " + alphasCumprod.length + ")");
        }
    }
}
