package io.animatediff.common.validation;

/**
 * Counts prompt tokens the way the text encoder's tokenizer does (the engine implements it with
 * the CLIP BPE tokenizer; the gateway, which never loads the engine, may use {@link #NONE}).
 */
public interface TokenCounter {
    /** Skips the token check. */
    TokenCounter NONE = new TokenCounter() {
        @Override
        public int countTokens(String text) {
            return 0;
        }

        @Override
        public int maxTokens() {
            return Integer.MAX_VALUE;
        }
    };

    /** Tokens of {@code text} including the start and end tokens. */
    int countTokens(String text);

    /** Tokens the text encoder reads (77 for CLIP ViT-L/14); the rest is truncated. */
    int maxTokens();
}
