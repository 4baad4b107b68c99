package io.animatediff.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.animatediff.engine.convert.Component;
import io.animatediff.engine.convert.LoraKeys;
import io.animatediff.engine.convert.LoraPlan;
import io.animatediff.engine.convert.LoraTarget;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.weights.TensorSource;
import io.animatediff.engine.weights.TensorSources;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Merges a LoRA into a loaded model: W' = W + scale * (alpha / rank) * up @ down for every target
 * the file's keys resolve to (kohya, PEFT/diffusers and AnimateDiff MotionLoRA layouts). The
 * original weight arrays are kept, so {@link Merge#close()} restores the model bit-exactly: a
 * cached base model is never corrupted by a job's LoRA.
 */
public final class LoraMerger {
    private LoraMerger() {}

    /** One applied LoRA; closing it restores the original weights. */
    public static final class Merge implements AutoCloseable {
        private final List<Param> params = new ArrayList<>();
        private final List<NDArray> originals = new ArrayList<>();
        private final String description;
        private final int targets;
        private boolean kept;

        private Merge(String description, int targets) {
            this.description = description;
            this.targets = targets;
        }

        public int targets() {
            return targets;
        }

        public String description() {
            return description;
        }

        /** Makes the merge permanent: the originals are freed and close() does nothing. */
        public void keep() {
            originals.forEach(NDArray::close);
            originals.clear();
            params.clear();
            kept = true;
        }

        @Override
        public void close() {
            if (kept) {
                return;
            }
            for (int i = params.size() - 1; i >= 0; i--) {
                NDArray merged = params.get(i).replace(originals.get(i));
                merged.close();
            }
            params.clear();
            originals.clear();
        }
    }

    public static Merge merge(AnimateDiffModel model, LoraSpec spec) throws IOException {
        try (TensorSource src = TensorSources.open(spec.file())) {
            Map<String, long[]> shapes = new LinkedHashMap<>();
            for (String k : src.keys()) {
                shapes.put(k, src.info(k).shape());
            }
            Map<String, Param> unet = model.unet().namedTensors();
            Map<String, Param> text = model.textEncoder().namedTensors();
            LoraPlan plan;
            try {
                plan = LoraKeys.plan(shapes, unet.keySet(), text.keySet());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("LoRA " + spec.file() + ": " + e.getMessage(), e);
            }
            Merge merge = new Merge(
                    spec.file().getFileName() + " x" + spec.scale() + " ("
                            + plan.format().displayName() + ", "
                            + plan.targets().size() + " weights)",
                    plan.targets().size());
            try {
                for (LoraTarget t : plan.targets()) {
                    Map<String, Param> params = t.component() == Component.TEXT_ENCODER ? text : unet;
                    apply(model.manager(), params.get(t.weightKey()), src, t, spec.scale(), merge);
                }
            } catch (RuntimeException e) {
                merge.close();
                throw e;
            }
            return merge;
        }
    }

    private static void apply(NDManager manager, Param p, TensorSource src, LoraTarget t, double scale, Merge merge) {
        try (NDManager scratch = manager.newSubManager()) {
            NDArray down = src.load(t.downKey(), scratch); // (r, Cin[, kh, kw])
            NDArray up = src.load(t.upKey(), scratch); // (Cout, r[, 1, 1])
            Double alpha = t.alphaKeyOrNull() == null ? null : (double) src.loadFloats(t.alphaKeyOrNull())[0];
            double factor = scale * t.alphaOverRank(alpha);
            long cout = up.getShape().get(0);
            long rank = t.rank();
            NDArray delta =
                    up.reshape(cout, rank).matMul(down.reshape(rank, -1)).mul(factor); // (Cout, Cin*k*k)
            NDArray w = p.get();
            NDArray merged = w.add(delta.reshape(w.getShape()));
            merged.attach(manager);
            merge.params.add(p);
            merge.originals.add(p.replace(merged));
        }
    }
}
