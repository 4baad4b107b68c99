package io.animatediff.engine.convert;

/**
 * One low-rank update: {@code W += scale * (alpha / rank) * up @ down} on the base weight
 * {@code weightKey} of {@code component}. Linear: down {@code (r, Cin)}, up {@code (Cout, r)}, W
 * {@code (Cout, Cin)}. Conv (LoCon): down {@code (r, Cin, kh, kw)}, up {@code (Cout, r, 1, 1)}, W
 * {@code (Cout, Cin, kh, kw)}, update {@code (up.reshape(Cout, r) @ down.reshape(r, Cin*kh*kw))} reshaped
 * to W's shape.
 *
 * @param component the model the base weight belongs to
 * @param weightKey the base weight's key in the engine's naming (ends with {@code .weight})
 * @param downKey the LoRA file's down (A) tensor
 * @param upKey the LoRA file's up (B) tensor
 * @param alphaKeyOrNull the LoRA file's alpha scalar, or null when absent (alpha = rank)
 * @param rank r, from the down tensor's first dimension
 * @param kind linear or convolution update
 */
public record LoraTarget(
        Component component,
        String weightKey,
        String downKey,
        String upKey,
        String alphaKeyOrNull,
        int rank,
        Kind kind) {

    /** Shape family of the update. */
    public enum Kind {
        /** down (r, Cin), up (Cout, r). */
        LINEAR,
        /** down (r, Cin, kh, kw), up (Cout, r, 1, 1). */
        CONV
    }

    /** alpha / rank for the given alpha value, or 1 when the file has no alpha (alpha = rank). */
    public double alphaOverRank(Double alphaOrNull) {
        return alphaOrNull == null ? 1.0 : alphaOrNull / rank;
    }
}
