package io.animatediff.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class LinearLoraTest {

    @Test
    void anAdapterAddsUpDownAndLeavesKeysAndCountsAlone() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(5);
            Linear layer = new Linear(6, 4, true);
            layer.initialize(m, 1);
            NDArray x = m.randomNormal(new Shape(3, 6));
            float[] plain = layer.forward(x).toFloatArray();
            var keys = layer.namedTensors().keySet();
            long count = layer.parameterCount();

            LoRALinearLayer lora = new LoRALinearLayer(6, 4, 2);
            lora.initializeFresh(m, 9);
            layer.setLora(lora);
            assertEquals(keys, layer.namedTensors().keySet(), "the adapter is not a child: keys unchanged");
            assertEquals(count, layer.parameterCount());
            assertArrayEquals(plain, layer.forward(x).toFloatArray(), "a fresh adapter (up = 0) changes nothing");
            assertEquals(
                    java.util.Set.of("down.weight", "up.weight"),
                    lora.namedTensors().keySet());

            lora.upWeight().set(m.randomNormal(new Shape(4, 2)));
            NDArray expected = x.matMul(layer.weight.get().transpose())
                    .add(layer.bias.get())
                    .add(x.matMul(lora.downWeight().get().transpose())
                            .matMul(lora.upWeight().get().transpose()));
            float[] e = expected.toFloatArray();
            float[] a = layer.forward(x).toFloatArray();
            for (int i = 0; i < a.length; i++) {
                assertEquals(e[i], a[i], 1e-5 + 1e-5 * Math.abs(e[i]), "element " + i);
            }
            layer.setLora(null);
            assertArrayEquals(plain, layer.forward(x).toFloatArray(), "detached: exactly torch.nn.Linear again");
        }
    }

    @Test
    void adaptersMustFitTheirLayer() {
        Linear layer = new Linear(6, 4, false);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> layer.setLora(new LoRALinearLayer(4, 6, 2)));
        assertTrue(e.getMessage().contains("does not fit a 6 -> 4 Linear"), e.getMessage());
        IllegalArgumentException r = assertThrows(IllegalArgumentException.class, () -> new LoRALinearLayer(6, 4, 5));
        assertTrue(r.getMessage().contains("LoRA rank 5 must lie in [1, 4]"), r.getMessage());
    }
}
