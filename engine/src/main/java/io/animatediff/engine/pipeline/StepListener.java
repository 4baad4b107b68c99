package io.animatediff.engine.pipeline;

/** Told after every denoising step; asked between steps whether the run was cancelled. */
public interface StepListener {
    StepListener NONE = new StepListener() {};

    /** Called after step {@code step} (1-based) of {@code total}. */
    default void onStep(int step, int total) {}

    /** Checked before every step; true stops the run with {@link CancelledException}. */
    default boolean isCancelled() {
        return false;
    }
}
