package io.animatediff.engine.training;

import ai.djl.ndarray.NDManager;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.LoRALinearLayer;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Param;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * MotionLoRA adapters on every temporal attention projection (to_q, to_k, to_v, to_out.0) of a
 * UNet's motion modules, keyed as AnimateDiff's MotionLoRA files:
 * {@code {block}.motion_modules.N.temporal_transformer.transformer_blocks.T.attention_blocks.K.processor.to_q_lora.down.weight}
 * (and {@code .up.weight}; {@code to_out_lora} for to_out.0), which the engine's LoRA loader merges as
 * W += up @ down.
 */
public final class MotionLoraLayers {
    private static final Pattern PROJECTION = Pattern.compile(
            "^(.+\\.motion_modules\\.\\d+\\.temporal_transformer\\.transformer_blocks\\.\\d+\\.attention_blocks\\.\\d+)"
                    + "\\.(to_q|to_k|to_v|to_out\\.0)$");

    private final Map<String, Linear> layers; // LoRA key prefix -> the projection it adapts
    private final Map<String, Param> params; // full LoRA key -> its tensor

    private MotionLoraLayers(Map<String, Linear> layers, Map<String, Param> params) {
        this.layers = layers;
        this.params = params;
    }

    /**
     * Creates and attaches fresh rank-r adapters (down ~ N(0, 1/r^2), up = 0: the UNet's output is
     * unchanged) on {@code manager}, seeded per adapter from {@code seed}.
     */
    public static MotionLoraLayers attach(Module unet, int rank, NDManager manager, long seed) {
        Map<String, Linear> projections = new LinkedHashMap<>();
        collect(unet, "", projections);
        if (projections.isEmpty()) {
            throw new IllegalArgumentException("the UNet has no motion modules: a MotionLoRA needs a motion module");
        }
        Map<String, Linear> layers = new LinkedHashMap<>();
        Map<String, Param> params = new LinkedHashMap<>();
        int index = 0;
        for (Map.Entry<String, Linear> e : projections.entrySet()) {
            Linear target = e.getValue();
            if (target.lora() != null) {
                throw new IllegalStateException("'" + e.getKey() + "' already carries a LoRA adapter");
            }
            LoRALinearLayer lora = new LoRALinearLayer(target.in, target.out, rank);
            lora.initializeFresh(manager, SeedStreams.seed(seed, SeedStreams.Purpose.LORA, index++, 0));
            target.setLora(lora);
            String prefix = e.getKey();
            layers.put(prefix, target);
            params.put(prefix + ".down.weight", lora.downWeight());
            params.put(prefix + ".up.weight", lora.upWeight());
        }
        return new MotionLoraLayers(layers, params);
    }

    /** Projection module paths -> LoRA key prefixes ({@code <attention>.processor.to_q_lora}). */
    private static void collect(Module m, String path, Map<String, Linear> out) {
        Matcher match = PROJECTION.matcher(path);
        if (m instanceof Linear linear && match.matches()) {
            String proj = match.group(2).equals("to_out.0") ? "to_out" : match.group(2);
            out.put(match.group(1) + ".processor." + proj + "_lora", linear);
            return;
        }
        for (Map.Entry<String, Module> c : m.children().entrySet()) {
            collect(c.getValue(), path.isEmpty() ? c.getKey() : path + "." + c.getKey(), out);
        }
    }

    /** Every LoRA tensor by its MotionLoRA file key, in UNet order. */
    public Map<String, Param> parameters() {
        return Collections.unmodifiableMap(params);
    }

    /** Number of adapted projections. */
    public int size() {
        return layers.size();
    }

    /** Detaches every adapter: the UNet computes exactly as before {@link #attach}. */
    public void detach() {
        layers.values().forEach(l -> l.setLora(null));
    }
}
