package io.animatediff.engine.weights;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.weights.TorchZipWriter.OrderedDict;
import io.animatediff.engine.weights.TorchZipWriter.Storage;
import io.animatediff.engine.weights.TorchZipWriter.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Test scope, for other packages: writes float32 tensors as a {@code torch.save} checkpoint (zip
 * pickle, one storage per tensor), as the official AnimateDiff {@code .ckpt} files are made.
 */
public final class TorchCheckpoints {
    private TorchCheckpoints() {}

    /**
     * Writes {@code tensors} as {@code module.state_dict()} (an OrderedDict with {@code _metadata}),
     * wrapped in {@code {"state_dict": ...}} if {@code wrapInStateDict}.
     */
    public static void save(Path file, Map<String, NDArray> tensors, boolean wrapInStateDict) throws IOException {
        OrderedDict sd = new OrderedDict(true);
        int i = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray a = e.getValue();
            Storage s = TorchZipWriter.f32(Integer.toString(i++), a.toFloatArray());
            sd.put(e.getKey(), Tensor.contiguous(s, 0, a.getShape().getShape()));
        }
        Object root = sd;
        if (wrapInStateDict) {
            Map<String, Object> wrapper = new LinkedHashMap<>();
            wrapper.put("state_dict", sd);
            root = wrapper;
        }
        String top = file.getFileName().toString().replaceAll("\\.[^.]*$", "");
        TorchZipWriter.save(file, top, root);
    }
}
