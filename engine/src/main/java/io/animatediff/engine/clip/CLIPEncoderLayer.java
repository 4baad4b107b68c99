package io.animatediff.engine.clip;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.nn.LayerNorm;
import io.animatediff.engine.nn.Module;

/**
 * Ports transformers.models.clip.modeling_clip.CLIPEncoderLayer (pre-norm): x + self_attn(
 * layer_norm1(x)), then + mlp(layer_norm2(x)).
 */
public final class CLIPEncoderLayer extends Module {
    final CLIPAttention selfAttn;
    final LayerNorm layerNorm1;
    final CLIPMLP mlp;
    final LayerNorm layerNorm2;

    public CLIPEncoderLayer(CLIPTextConfig config) {
        int c = config.hiddenSize();
        selfAttn = child("self_attn", new CLIPAttention(c, config.numAttentionHeads()));
        layerNorm1 = child("layer_norm1", new LayerNorm(c, config.layerNormEps()));
        mlp = child("mlp", new CLIPMLP(c, config.intermediateSize(), config.hiddenAct()));
        layerNorm2 = child("layer_norm2", new LayerNorm(c, config.layerNormEps()));
    }

    /** x (B, S, C), mask (S, S) additive -> (B, S, C). */
    public NDArray forward(NDArray x, NDArray mask) {
        x = x.add(selfAttn.forward(layerNorm1.forward(x), mask));
        return x.add(mlp.forward(layerNorm2.forward(x)));
    }
}
