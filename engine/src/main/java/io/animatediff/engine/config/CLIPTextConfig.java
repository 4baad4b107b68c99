package io.animatediff.engine.config;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Locale;

/**
 * The CLIP text encoder's architecture, read from a {@code text_encoder/config.json}
 * (transformers' CLIPTextConfig). Absent fields take transformers' defaults; {@code projection_dim}
 * (CLIPTextModelWithProjection only), dropouts, initialisers and token ids are ignored.
 *
 * @param hiddenAct "quick_gelu" (x * sigmoid(1.702 x), OpenAI CLIP / SD1.x) or "gelu" (exact, OpenCLIP / SD2.x)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record CLIPTextConfig(
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("hidden_size") int hiddenSize,
        @JsonProperty("intermediate_size") int intermediateSize,
        @JsonProperty("num_hidden_layers") int numHiddenLayers,
        @JsonProperty("num_attention_heads") int numAttentionHeads,
        @JsonProperty("max_position_embeddings") int maxPositionEmbeddings,
        @JsonProperty("hidden_act") String hiddenAct,
        @JsonProperty("layer_norm_eps") double layerNormEps) {

    public static final String QUICK_GELU = "quick_gelu";
    public static final String GELU = "gelu";

    public CLIPTextConfig {
        // 0 means absent from config.json: transformers' CLIPTextConfig defaults
        vocabSize = vocabSize == 0 ? 49408 : vocabSize;
        hiddenSize = hiddenSize == 0 ? 512 : hiddenSize;
        intermediateSize = intermediateSize == 0 ? 2048 : intermediateSize;
        numHiddenLayers = numHiddenLayers == 0 ? 12 : numHiddenLayers;
        numAttentionHeads = numAttentionHeads == 0 ? 8 : numAttentionHeads;
        maxPositionEmbeddings = maxPositionEmbeddings == 0 ? 77 : maxPositionEmbeddings;
        layerNormEps = layerNormEps == 0 ? 1e-5 : layerNormEps;
        hiddenAct = hiddenAct == null ? QUICK_GELU : hiddenAct.toLowerCase(Locale.ROOT);
        if (vocabSize < 1
                || hiddenSize < 1
                || intermediateSize < 1
                || numHiddenLayers < 1
                || numAttentionHeads < 1
                || maxPositionEmbeddings < 1
                || !(layerNormEps > 0)) {
            throw new IllegalArgumentException("text encoder config: vocab_size " + vocabSize + ", hidden_size "
                    + hiddenSize + ", intermediate_size " + intermediateSize + ", num_hidden_layers "
                    + numHiddenLayers + ", num_attention_heads " + numAttentionHeads + ", max_position_embeddings "
                    + maxPositionEmbeddings + " must be >= 1 and layer_norm_eps " + layerNormEps + " > 0");
        }
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("text encoder config: hidden_size " + hiddenSize
                    + " is not divisible by num_attention_heads " + numAttentionHeads);
        }
        if (!hiddenAct.equals(QUICK_GELU) && !hiddenAct.equals(GELU)) {
            throw new IllegalArgumentException("text encoder config: hidden_act '" + hiddenAct + "' is not supported ("
                    + QUICK_GELU + ", " + GELU + ")");
        }
    }

    /** D: width of one attention head. */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** OpenAI CLIP ViT-L/14's text tower, the text encoder of Stable Diffusion 1.x. */
    public static CLIPTextConfig vitL14() {
        return new CLIPTextConfig(49408, 768, 3072, 12, 12, 77, QUICK_GELU, 1e-5);
    }

    /** A tiny text encoder for tests: 2 layers, 32 wide, 4 heads, 16 positions, 100 tokens. */
    public static CLIPTextConfig tiny() {
        return new CLIPTextConfig(100, 32, 64, 2, 4, 16, QUICK_GELU, 1e-5);
    }
}
