package io.animatediff.engine.clip;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.ModuleList;

/** Ports transformers.models.clip.modeling_clip.CLIPEncoder: a stack of CLIPEncoderLayers. */
public final class CLIPEncoder extends Module {
    final ModuleList<CLIPEncoderLayer> layers;

    public CLIPEncoder(CLIPTextConfig config) {
        layers = child("layers", new ModuleList<>());
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            layers.add(new CLIPEncoderLayer(config));
        }
    }

    /** x (B, S, C), mask (S, S) -> the output of the first {@code count} layers (B, S, C). */
    public NDArray forward(NDArray x, NDArray mask, int count) {
        for (int i = 0; i < count; i++) {
            x = layers.get(i).forward(x, mask);
        }
        return x;
    }

    public int size() {
        return layers.size();
    }
}
