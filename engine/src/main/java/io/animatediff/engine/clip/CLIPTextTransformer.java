package io.animatediff.engine.clip;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.nn.LayerNorm;
import io.animatediff.engine.nn.Module;

/**
 * Ports transformers.models.clip.modeling_clip.CLIPTextTransformer (without the pooled output):
 * embeddings -> causal encoder -> final_layer_norm.
 */
public final class CLIPTextTransformer extends Module {
    final CLIPTextEmbeddings embeddings;
    final CLIPEncoder encoder;
    final LayerNorm finalLayerNorm;

    public CLIPTextTransformer(CLIPTextConfig config) {
        embeddings = child("embeddings", new CLIPTextEmbeddings(config));
        encoder = child("encoder", new CLIPEncoder(config));
        finalLayerNorm = child("final_layer_norm", new LayerNorm(config.hiddenSize(), config.layerNormEps()));
    }

    /** ids (B, S) -> final_layer_norm(output of the first {@code layers} encoder layers) (B, S, C). */
    public NDArray forward(NDArray ids, int layers) {
        int s = (int) ids.getShape().get(1);
        // 1. embeddings and the causal mask, built once for all layers on the input's manager
        NDArray x = embeddings.forward(ids); // (B, S, C)
        NDArray mask = CausalAttention.mask(ids.getManager(), s); // (S, S)
        // 2. encoder
        x = encoder.forward(x, mask, layers);
        // 3. output
        return finalLayerNorm.forward(x);
    }
}
