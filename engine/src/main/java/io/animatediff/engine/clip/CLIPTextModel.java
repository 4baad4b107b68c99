package io.animatediff.engine.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.nn.Module;

/**
 * Ports transformers.models.clip.modeling_clip.CLIPTextModel: the text tower under
 * {@code text_model.*}, returning last_hidden_state (or an earlier layer's state for clip skip).
 */
public final class CLIPTextModel extends Module {
    final CLIPTextConfig config;
    final CLIPTextTransformer textModel;

    public CLIPTextModel(CLIPTextConfig config) {
        this.config = config;
        textModel = child("text_model", new CLIPTextTransformer(config));
    }

    public CLIPTextConfig config() {
        return config;
    }

    /** ids (B, S) integer token ids, S <= max_position_embeddings -> last_hidden_state (B, S, C). */
    public NDArray forward(NDArray inputIds) {
        return forward(inputIds, 0);
    }

    /**
     * Clip skip as diffusers' StableDiffusionPipeline applies it: {@code clipSkip} 0 is the last
     * layer's output; k > 0 takes hidden_states[-(k + 1)], the output of layer L - k, and applies
     * final_layer_norm to it. ids (B, S) -> (B, S, C).
     */
    public NDArray forward(NDArray inputIds, int clipSkip) {
        int layers = config.numHiddenLayers();
        if (clipSkip < 0 || clipSkip >= layers) {
            throw new IllegalArgumentException("clip skip must be between 0 and " + (layers - 1) + " for a " + layers
                    + "-layer text encoder, got " + clipSkip);
        }
        Shape s = inputIds.getShape();
        if (s.dimension() != 2 || s.get(1) < 1 || s.get(1) > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("text encoder expects token ids (B, S) with 1 <= S <= "
                    + config.maxPositionEmbeddings() + ", got " + s
                    + ": tokenize with truncation to the model's maximum length");
        }
        DataType t = inputIds.getDataType();
        if (t != DataType.INT64 && t != DataType.INT32) {
            throw new IllegalArgumentException("text encoder expects integer token ids (int64), got " + t);
        }
        NDArray ids = t == DataType.INT64 ? inputIds : inputIds.toType(DataType.INT64, false);
        long min = ids.min().getLong();
        long max = ids.max().getLong();
        if (min < 0 || max >= config.vocabSize()) {
            throw new IllegalArgumentException("token ids must lie in [0, " + config.vocabSize() + "), got ids from "
                    + min + " to " + max + ": the tokenizer does not match this text encoder");
        }
        return textModel.forward(ids, layers - clipSkip);
    }
}
