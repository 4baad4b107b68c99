package io.animatediff.engine.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.LoRALinearLayer;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A personalization LoRA (Hu et al. 2021, as kohya and PEFT train them for Stable Diffusion) on every
 * linear layer of an image UNet outside its motion modules: attention projections, feed-forwards and
 * the time-embedding projections. Saved in PEFT's layout
 * ({@code unet.<module>.lora_A.weight} = down (r, Cin), {@code unet.<module>.lora_B.weight} = up
 * (Cout, r), no alpha: scale 1), which the engine's LoRA loader merges as W += up @ down.
 */
public final class UNetLoraLayers {
    private final Map<String, Linear> layers; // module path -> the layer it adapts
    private final Map<String, Param> params; // PEFT file key -> its tensor

    private UNetLoraLayers(Map<String, Linear> layers, Map<String, Param> params) {
        this.layers = layers;
        this.params = params;
    }

    /** Attaches fresh rank-r adapters (down ~ N(0, 1/r^2), up = 0: the output is unchanged). */
    public static UNetLoraLayers attach(Module unet, int rank, NDManager manager, long seed) {
        Map<String, Linear> found = new LinkedHashMap<>();
        collect(unet, "", found);
        Map<String, Param> params = new LinkedHashMap<>();
        int index = 0;
        for (Map.Entry<String, Linear> e : found.entrySet()) {
            Linear target = e.getValue();
            if (target.lora() != null) {
                throw new IllegalStateException("'" + e.getKey() + "' already carries a LoRA adapter");
            }
            LoRALinearLayer lora =
                    new LoRALinearLayer(target.in, target.out, Math.min(rank, (int) Math.min(target.in, target.out)));
            lora.initializeFresh(manager, SeedStreams.seed(seed, SeedStreams.Purpose.LORA, index++, 1));
            target.setLora(lora);
            params.put("unet." + e.getKey() + ".lora_A.weight", lora.downWeight());
            params.put("unet." + e.getKey() + ".lora_B.weight", lora.upWeight());
        }
        if (found.isEmpty()) {
            throw new IllegalArgumentException("the UNet has no linear layers to adapt");
        }
        return new UNetLoraLayers(found, params);
    }

    private static void collect(Module m, String path, Map<String, Linear> out) {
        if (path.contains("motion_modules")) {
            return;
        }
        if (m instanceof Linear linear) {
            out.put(path, linear);
            return;
        }
        for (Map.Entry<String, Module> c : m.children().entrySet()) {
            collect(c.getValue(), path.isEmpty() ? c.getKey() : path + "." + c.getKey(), out);
        }
    }

    /** Every LoRA tensor by its PEFT file key. */
    public Map<String, Param> parameters() {
        return Collections.unmodifiableMap(params);
    }

    /** Number of adapted layers. */
    public int size() {
        return layers.size();
    }

    /** Writes the adapters as a PEFT-layout safetensors file. */
    public void save(Path file) throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        params.forEach((k, p) -> tensors.put(k, p.get()));
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
    }

    /** Detaches every adapter: the UNet computes exactly as before {@link #attach}. */
    public void detach() {
        layers.values().forEach(l -> l.setLora(null));
    }
}
