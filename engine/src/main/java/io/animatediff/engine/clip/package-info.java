/**
 * The CLIP text encoder of Stable Diffusion (transformers' CLIPTextModel): token ids (B, S) to
 * hidden states (B, S, C) through a causal pre-LayerNorm transformer. Keys are transformers':
 * {@code text_model.embeddings.*}, {@code text_model.encoder.layers.N.*},
 * {@code text_model.final_layer_norm.*}.
 */
package io.animatediff.engine.clip;
