package io.animatediff.engine.pipeline;

/** The run was cancelled between two denoising steps; nothing was output. */
public final class CancelledException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CancelledException(int step, int total) {
        super("cancelled before step " + step + " of " + total);
    }
}
