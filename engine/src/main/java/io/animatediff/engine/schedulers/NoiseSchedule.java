package io.animatediff.engine.schedulers;

import static io.animatediff.engine.schedulers.Numerics.f32;

import java.util.List;

/**
 * The training noise schedule shared by the schedulers: betas, alphas and their cumulative product,
 * stored as float32 values like diffusers' tensors. Ports the beta branch of
 * DDIMScheduler/EulerDiscreteScheduler.__init__, betas_for_alpha_bar and rescale_zero_terminal_snr
 * (diffusers schedulers/scheduling_ddim.py).
 *
 * <p>Notation (DDPM, Ho et al. 2020): beta_t the variance added at step t, alpha_t = 1 - beta_t,
 * alphaBar_t = prod_{s <= t} alpha_s ("alphas_cumprod"), so x_t = sqrt(alphaBar_t) x_0 +
 * sqrt(1 - alphaBar_t) eps.
 */
final class NoiseSchedule {
    private NoiseSchedule() {}

    /** betas (T), float32 values, from the config's trained_betas or beta_schedule. */
    static double[] betas(SchedulerConfig cfg) {
        int t = cfg.numTrainTimesteps();
        double[] betas;
        List<Double> trained = cfg.trainedBetas();
        if (trained != null) {
            betas = new double[t];
            for (int i = 0; i < t; i++) {
                betas[i] = f32(trained.get(i));
            }
        } else {
            betas = switch (cfg.betaSchedule()) {
                case "linear" -> Numerics.torchLinspaceF32(cfg.betaStart(), cfg.betaEnd(), t);
                case "scaled_linear" ->
                    squared(Numerics.torchLinspaceF32(Math.sqrt(cfg.betaStart()), Math.sqrt(cfg.betaEnd()), t));
                case "squaredcos_cap_v2" -> betasForAlphaBar(t, 0.999);
                default -> throw new IllegalStateException("unvalidated beta_schedule " + cfg.betaSchedule());
            };
        }
        return cfg.rescaleBetasZeroSnr() ? rescaleZeroTerminalSnr(betas) : betas;
    }

    /** alphas_cumprod (T) = cumprod(1 - betas), float32 values. */
    static double[] alphasCumprod(double[] betas) {
        double[] alphas = new double[betas.length];
        for (int i = 0; i < betas.length; i++) {
            alphas[i] = f32(1.0 - betas[i]);
        }
        return Numerics.torchCumprodF32(alphas);
    }

    private static double[] squared(double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = f32(x[i] * x[i]);
        }
        return out;
    }

    /** Glide's cosine schedule, computed in float64 and stored as float32 (betas_for_alpha_bar). */
    static double[] betasForAlphaBar(int n, double maxBeta) {
        double[] betas = new double[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n;
            double t2 = (double) (i + 1) / n;
            betas[i] = f32(Math.min(1 - alphaBarCosine(t2) / alphaBarCosine(t1), maxBeta));
        }
        return betas;
    }

    private static double alphaBarCosine(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /**
     * Rescales betas so the last timestep has zero SNR (Lin et al. 2023, arXiv 2305.08891, Algorithm
     * 1), in float32 steps like the reference.
     */
    static double[] rescaleZeroTerminalSnr(double[] betas) {
        int n = betas.length;
        double[] alphas = new double[n];
        for (int i = 0; i < n; i++) {
            alphas[i] = f32(1.0 - betas[i]);
        }
        double[] sqrtBar = Numerics.torchCumprodF32(alphas);
        for (int i = 0; i < n; i++) {
            sqrtBar[i] = f32(Math.sqrt(sqrtBar[i]));
        }
        double first = sqrtBar[0];
        double last = sqrtBar[n - 1];
        double scale = f32(first / f32(first - last));
        double[] bar = new double[n];
        for (int i = 0; i < n; i++) {
            double shifted = f32(f32(sqrtBar[i] - last) * scale);
            bar[i] = f32(shifted * shifted);
        }
        double[] out = new double[n];
        out[0] = f32(1.0 - bar[0]);
        for (int i = 1; i < n; i++) {
            out[i] = f32(1.0 - f32(bar[i] / bar[i - 1]));
        }
        return out;
    }
}
