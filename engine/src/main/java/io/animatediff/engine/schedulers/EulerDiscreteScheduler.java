package io.animatediff.engine.schedulers;

import static io.animatediff.engine.schedulers.Numerics.f32;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.Map;

/**
 * Ports diffusers EulerDiscreteScheduler (src/diffusers/schedulers/scheduling_euler_discrete.py)
 * with s_churn = 0 (deterministic), "linear" sigma interpolation, optional Karras sigmas and
 * final_sigmas_type "zero" or "sigma_min".
 *
 * <p>Notation (Karras et al. 2022, arXiv 2206.00364, Algorithm 1 / k-diffusion): sigma_t =
 * sqrt((1 - alphaBar_t) / alphaBar_t), the noise level of x = x_0 + sigma eps; the model sees x /
 * sqrt(sigma^2 + 1); from its output the step predicts x_0 ("pred_original_sample"), takes the ODE
 * derivative d = (x - x_0) / sigma_i and moves x_{i+1} = x + d (sigma_{i+1} - sigma_i). sigmas has n + 1
 * entries, the last 0 (or sigma_0 of training).
 *
 * <p>Timesteps and sigmas follow diffusers' numpy/float32 arithmetic; step runs in float32 and casts
 * back to the model output's dtype, as diffusers does.
 */
public final class EulerDiscreteScheduler implements Scheduler {
    private static final double KARRAS_RHO = 7.0;

    private final SchedulerConfig cfg;
    private final double[] alphasCumprod; // (T) float32 values
    private final double[] trainSigmas; // (T) float32 values, ascending in t
    private final double[] logTrainSigmas; // (T) float32 values
    private int numInferenceSteps; // 0 until setTimesteps
    private double[] timesteps; // (n) float32 values; before setTimesteps the T training timesteps T-1..0
    private double[] sigmas; // (n + 1) float32 values, high noise first

    public EulerDiscreteScheduler(SchedulerConfig cfg) {
        this.cfg = cfg.with(Map.of("timestep_spacing", cfg.timestepSpacingOr("linspace")));
        int t = cfg.numTrainTimesteps();
        this.alphasCumprod = NoiseSchedule.alphasCumprod(NoiseSchedule.betas(cfg));
        if (cfg.rescaleBetasZeroSnr()) {
            alphasCumprod[t - 1] = Math.scalb(1.0, -24); // close to 0 so the first sigma stays finite
        }
        this.trainSigmas = new double[t];
        this.logTrainSigmas = new double[t];
        for (int i = 0; i < t; i++) {
            trainSigmas[i] = f32(Math.sqrt(f32(f32(1 - alphasCumprod[i]) / alphasCumprod[i])));
            logTrainSigmas[i] = f32(Math.log(trainSigmas[i]));
        }
        this.timesteps = new double[t];
        this.sigmas = new double[t + 1];
        for (int i = 0; i < t; i++) {
            timesteps[i] = t - 1 - i;
            sigmas[i] = trainSigmas[t - 1 - i];
        }
    }

    @Override
    public void setTimesteps(int numInferenceSteps) {
        int t = cfg.numTrainTimesteps();
        if (numInferenceSteps < 1 || numInferenceSteps > t) {
            throw new IllegalArgumentException(
                    "num_inference_steps = " + numInferenceSteps + " must lie in [1, num_train_timesteps = " + t + "]");
        }
        int n = numInferenceSteps;
        // 1. timesteps by spacing (numpy float64, stored as float32)
        double[] ts = new double[n];
        switch (cfg.timestepSpacing()) {
            case "linspace" -> {
                double[] lin = Numerics.numpyLinspace(0, t - 1, n);
                for (int i = 0; i < n; i++) {
                    ts[i] = f32(lin[n - 1 - i]);
                }
            }
            case "leading" -> {
                int ratio = t / n;
                for (int i = 0; i < n; i++) {
                    ts[i] = (double) (n - 1 - i) * ratio + cfg.stepsOffset();
                }
            }
            case "trailing" -> {
                // numpy.arange(T, 0, -T/n) sometimes yields n + 1 values; we keep the intended first n.
                double[] ar = Numerics.numpyArange(t, -(double) t / n, n);
                for (int i = 0; i < n; i++) {
                    ts[i] = f32(Math.rint(ar[i])) - 1;
                }
            }
            default -> throw new IllegalStateException("unvalidated timestep_spacing " + cfg.timestepSpacing());
        }
        // 2. sigmas interpolated linearly at the timesteps (float64)
        double[] sig = new double[n];
        for (int i = 0; i < n; i++) {
            sig[i] = Numerics.numpyInterp(ts[i], trainSigmas);
        }
        // 3. Karras sigmas (rho = 7) and the timesteps they map back to
        if (cfg.useKarrasSigmas()) {
            double sigmaMin = cfg.sigmaMin() != null ? cfg.sigmaMin() : sig[n - 1];
            double sigmaMax = cfg.sigmaMax() != null ? cfg.sigmaMax() : sig[0];
            double[] ramp = Numerics.numpyLinspace(0, 1, n);
            double minInvRho = Math.pow(sigmaMin, 1 / KARRAS_RHO);
            double maxInvRho = Math.pow(sigmaMax, 1 / KARRAS_RHO);
            for (int i = 0; i < n; i++) {
                sig[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), KARRAS_RHO);
                ts[i] = f32(sigmaToT(sig[i]));
            }
        }
        // 4. append the final sigma, store as float32
        double last = "sigma_min".equals(cfg.finalSigmasType()) ? trainSigmas[0] : 0.0;
        double[] all = new double[n + 1];
        for (int i = 0; i < n; i++) {
            all[i] = f32(sig[i]);
        }
        all[n] = f32(last);
        this.numInferenceSteps = n;
        this.timesteps = ts;
        this.sigmas = all;
    }

    /** The fractional training timestep of a sigma, interpolated in log-sigma (_sigma_to_t). */
    private double sigmaToT(double sigma) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int lowIdx = 0;
        for (int i = 0; i < logTrainSigmas.length; i++) {
            if (logSigma - logTrainSigmas[i] >= 0) {
                lowIdx = i;
            }
        }
        lowIdx = Math.min(lowIdx, logTrainSigmas.length - 2);
        int highIdx = lowIdx + 1;
        double low = logTrainSigmas[lowIdx];
        double high = logTrainSigmas[highIdx];
        double w = Math.min(1, Math.max(0, (low - logSigma) / (low - high)));
        return (1 - w) * lowIdx + w * highIdx;
    }

    @Override
    public int[] timesteps() {
        requireTimesteps();
        return Arrays.stream(timesteps).mapToInt(v -> (int) Math.round(v)).toArray();
    }

    @Override
    public double[] modelTimesteps() {
        requireTimesteps();
        return timesteps.clone();
    }

    /** The n + 1 sigmas of the schedule, high noise first, the last 0 or sigma_min (float32 values). */
    public double[] sigmas() {
        requireTimesteps();
        return sigmas.clone();
    }

    @Override
    public NDArray scaleModelInput(NDArray sample, int stepIndex) {
        requireStep(stepIndex);
        double sigma = sigmas[stepIndex];
        return sample.div(f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
    }

    @Override
    public NDArray step(NDArray modelOutput, int stepIndex, NDArray sample, NDArray noiseOrNull) {
        requireStep(stepIndex);
        Scoped.requireSameShape("model output", modelOutput, sample);
        double sigma = sigmas[stepIndex];
        double sigmaHat = sigma; // s_churn = 0 -> gamma = 0
        double sigmaSqPlusOne = f32(f32(sigma * sigma) + 1);
        double vOutCoef = f32(-sigma / f32(Math.sqrt(sigmaSqPlusOne)));
        double dt = f32(sigmas[stepIndex + 1] - sigmaHat);
        return Scoped.compute(sample, () -> {
            NDArray x = sample.getDataType() == DataType.FLOAT32 ? sample : sample.toType(DataType.FLOAT32, false);
            // 1. predicted x_0
            NDArray predOriginal = switch (cfg.predictionType()) {
                case "epsilon" -> x.sub(modelOutput.mul(sigmaHat));
                case "sample" -> modelOutput;
                case "v_prediction" -> modelOutput.mul(vOutCoef).add(x.div(sigmaSqPlusOne));
                default -> throw new IllegalStateException("unvalidated prediction_type " + cfg.predictionType());
            };
            // 2. ODE derivative and Euler step
            NDArray derivative = x.sub(predOriginal).div(sigmaHat);
            NDArray prev = x.add(derivative.mul(dt));
            return prev.getDataType() == modelOutput.getDataType()
                    ? prev
                    : prev.toType(modelOutput.getDataType(), false);
        });
    }

    @Override
    public double initNoiseSigma() {
        double max = Arrays.stream(sigmas).max().orElseThrow();
        String spacing = cfg.timestepSpacing();
        if (spacing.equals("linspace") || spacing.equals("trailing")) {
            return max;
        }
        return f32(Math.sqrt(f32(f32(max * max) + 1)));
    }

    @Override
    public NDArray addNoise(NDArray original, NDArray noise, int timestep) {
        Scoped.requireSameShape("noise", noise, original);
        int index = indexForTimestep(timestep);
        return addNoiseAtSigma(original, noise, sigmas[index]);
    }

    @Override
    public NDArray addNoiseForStep(NDArray original, NDArray noise, int stepIndex) {
        requireStep(stepIndex);
        Scoped.requireSameShape("noise", noise, original);
        return addNoiseAtSigma(original, noise, sigmas[stepIndex]);
    }

    private NDArray addNoiseAtSigma(NDArray original, NDArray noise, double sigma) {
        return Scoped.compute(original, () -> original.add(noise.mul(sigma)));
    }

    /** The schedule position of a timestep; the second of two matches, as diffusers' index_for_timestep. */
    private int indexForTimestep(int timestep) {
        int first = -1;
        for (int i = 0; i < timesteps.length; i++) {
            if (timesteps[i] == timestep) {
                if (first >= 0) {
                    return i;
                }
                first = i;
            }
        }
        if (first < 0) {
            throw new IllegalArgumentException("timestep " + timestep + " is not in the Euler schedule "
                    + Arrays.toString(timesteps)
                    + "; use addNoiseForStep(original, noise, stepIndex) for a schedule position");
        }
        return first;
    }

    @Override
    public SchedulerConfig config() {
        return cfg;
    }

    private void requireTimesteps() {
        if (numInferenceSteps == 0) {
            throw new IllegalStateException("call setTimesteps(n) before using the Euler schedule");
        }
    }

    private void requireStep(int stepIndex) {
        requireTimesteps();
        if (stepIndex < 0 || stepIndex >= numInferenceSteps) {
            throw new IllegalArgumentException(
                    "step index " + stepIndex + " outside [0, " + numInferenceSteps + ") of the Euler schedule");
        }
    }
}
