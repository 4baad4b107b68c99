package io.animatediff.engine.text;

import java.util.Arrays;

/**
 * A prompt as CLIP token ids: BOS, up to 75 content tokens, EOS, then padding.
 *
 * @param ids (S) token ids, S = the tokenizer's max length (77)
 * @param length tokens before the padding, BOS and EOS included (<= S)
 * @param truncated whether content tokens were dropped to fit
 * @param droppedTokens how many content tokens were dropped (0 unless truncated)
 * @param keptText the text the kept content tokens spell (lowercased, cleaned), for a truncation warning
 */
public record TokenizedPrompt(int[] ids, int length, boolean truncated, int droppedTokens, String keptText) {

    public TokenizedPrompt {
        if (length < 2 || length > ids.length) {
            throw new IllegalArgumentException(
                    "length " + length + " must lie in [2, " + ids.length + "] (BOS and EOS included)");
        }
        if (droppedTokens < 0 || truncated != (droppedTokens > 0)) {
            throw new IllegalArgumentException(
                    "truncated = " + truncated + " disagrees with droppedTokens = " + droppedTokens);
        }
        ids = ids.clone();
    }

    /** A copy of the ids. */
    @Override
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenizedPrompt p
                && Arrays.equals(ids, p.ids)
                && length == p.length
                && truncated == p.truncated
                && droppedTokens == p.droppedTokens
                && keptText.equals(p.keptText);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + keptText.hashCode() + length;
    }

    @Override
    public String toString() {
        return "TokenizedPrompt[ids=" + Arrays.toString(Arrays.copyOf(ids, length)) + " + " + (ids.length - length)
                + " pad, truncated=" + truncated + ", droppedTokens=" + droppedTokens + ", keptText=" + keptText + "]";
    }
}
