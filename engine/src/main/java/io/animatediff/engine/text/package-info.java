/**
 * Text input of the model: {@link io.animatediff.engine.text.ClipTokenizer} turns a prompt into the
 * (S = 77) token ids the CLIP text encoder reads, reporting truncation as {@link
 * io.animatediff.engine.text.TokenizedPrompt}.
 */
package io.animatediff.engine.text;
