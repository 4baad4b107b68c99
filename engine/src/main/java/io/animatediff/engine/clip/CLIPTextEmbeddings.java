package io.animatediff.engine.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.nn.Embedding;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Param;

/**
 * Ports transformers.models.clip.modeling_clip.CLIPTextEmbeddings: token_embedding(ids) +
 * position_embedding(position_ids[:, :S]). position_ids (1, P) = arange(P) is a buffer: optional
 * in checkpoints and always recomputed (some published checkpoints carry a corrupted float copy).
 */
public final class CLIPTextEmbeddings extends Module {
    final Embedding tokenEmbedding;
    final Embedding positionEmbedding;
    final Param positionIds;
    final int maxPositions;

    public CLIPTextEmbeddings(CLIPTextConfig config) {
        maxPositions = config.maxPositionEmbeddings();
        tokenEmbedding = child("token_embedding", new Embedding(config.vocabSize(), config.hiddenSize()));
        positionEmbedding = child("position_embedding", new Embedding(maxPositions, config.hiddenSize()));
        positionIds = buffer("position_ids", 1, maxPositions);
    }

    @Override
    protected void fillBuffers(NDManager manager) {
        positionIds.set(manager.arange(0, maxPositions, 1, DataType.INT64).reshape(1, maxPositions));
    }

    /** ids (B, S) int64, S <= P -> (B, S, C) on the ids' manager. */
    public NDArray forward(NDArray ids) {
        long s = ids.getShape().get(1);
        NDArray positions = positionIds.get().get(new NDIndex(":, :{}", s)); // (1, S)
        positions.attach(ids.getManager());
        NDArray tokens = tokenEmbedding.forward(ids); // (B, S, C)
        return tokens.add(positionEmbedding.forward(positions)); // + (1, S, C)
    }
}
