package io.animatediff.engine.ops;

import static io.animatediff.engine.ops.Close.assertClose;
import static io.animatediff.engine.ops.Close.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.nn.Bf16Copies;
import io.animatediff.engine.unet.UNet3DConditionModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * bfloat16 convolutions and linear layers: close to float32 within bfloat16's rounding (8 bits of
 * mantissa: relative 2^-9 per input), weights cast once per array, and with the switch off every
 * result bit-identical to DJL's float32 ops.
 */
class Bfloat16Test {
    /** bfloat16 inputs with float32 accumulation: errors ~ 2^-9 of the terms, so atol ~ 1e-2 at unit scale. */
    private static final double OP_ATOL = 2e-2;

    private static final double OP_RTOL = 1e-2;

    private NDManager manager;

    @BeforeEach
    void open() {
        assumeTrue(Bfloat16.available(), "libtorch's TorchScript kernels did not load");
        Engine.getEngine("PyTorch").setRandomSeed(42);
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterEach
    void close() {
        Bfloat16.setEnabled(null);
        Ops.setMode(null);
        Bfloat16.clearCache();
        if (manager != null) {
            manager.close();
        }
    }

    @Test
    void switchIsOffByDefaultAndRefusesOtherWords() {
        Bfloat16.setEnabled(null);
        String before = System.getProperty(Bfloat16.PROPERTY);
        try {
            System.clearProperty(Bfloat16.PROPERTY);
            assertFalse(Bfloat16.enabled());
            System.setProperty(Bfloat16.PROPERTY, "TRUE");
            assertTrue(Bfloat16.enabled());
            System.setProperty(Bfloat16.PROPERTY, "yes");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Bfloat16::enabled);
            assertTrue(e.getMessage().contains("use true or false"), e.getMessage());
        } finally {
            if (before == null) {
                System.clearProperty(Bfloat16.PROPERTY);
            } else {
                System.setProperty(Bfloat16.PROPERTY, before);
            }
        }
    }

    @Test
    void offIsBitIdenticalToDjlsFloat32Ops() {
        NDArray x = manager.randomNormal(new Shape(2, 8, 6, 6)); // (N, Cin, H, W)
        NDArray w = manager.randomNormal(new Shape(4, 8, 3, 3)).mul(0.1);
        NDArray b = manager.randomNormal(new Shape(4));
        NDArray t = manager.randomNormal(new Shape(3, 5, 8)); // (B, S, Cin)
        NDArray lw = manager.randomNormal(new Shape(6, 8));
        NDArray lb = manager.randomNormal(new Shape(6));
        Bfloat16.setEnabled(false);
        assertArrayEquals(
                Conv2d.conv2d(x, w, b, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1)
                        .singletonOrThrow()
                        .toFloatArray(),
                Ops.conv2d(x, w, b, 1, 1).toFloatArray());
        assertArrayEquals(
                Linear.linear(t, lw, lb).singletonOrThrow().toFloatArray(),
                Ops.linear(t, lw, lb).toFloatArray());
        assertArrayEquals(
                Linear.linear(t, lw).singletonOrThrow().toFloatArray(),
                Ops.linear(t, lw, null).toFloatArray());
        assertEquals(0, Bfloat16.cachedWeights(), "no bfloat16 copy is made while off");
    }

    @Test
    void onMatchesFloat32WithinBfloat16RoundingAndIsNotFloat32() {
        NDArray x = manager.randomNormal(new Shape(2, 16, 8, 8)); // (N, Cin, H, W)
        NDArray w = manager.randomUniform(-1f / 12, 1f / 12, new Shape(8, 16, 3, 3));
        NDArray b = manager.randomNormal(new Shape(8));
        NDArray t = manager.randomNormal(new Shape(3, 5, 64)); // (B, S, Cin)
        NDArray lw = manager.randomUniform(-1f / 8, 1f / 8, new Shape(32, 64));
        NDArray lb = manager.randomNormal(new Shape(32));
        Bfloat16.setEnabled(false);
        NDArray conv32 = Ops.conv2d(x, w, b, 1, 1);
        NDArray strided32 = Ops.conv2d(x, w, null, 2, 1);
        NDArray lin32 = Ops.linear(t, lw, lb);
        NDArray noBias32 = Ops.linear(t, lw, null);
        Bfloat16.setEnabled(true);
        NDArray conv16 = Ops.conv2d(x, w, b, 1, 1);
        NDArray strided16 = Ops.conv2d(x, w, null, 2, 1);
        NDArray lin16 = Ops.linear(t, lw, lb);
        NDArray noBias16 = Ops.linear(t, lw, null);
        assertClose(conv16, conv32, OP_ATOL, OP_RTOL, "conv2d bf16");
        assertClose(strided16, strided32, OP_ATOL, OP_RTOL, "conv2d stride 2, no bias, bf16");
        assertClose(lin16, lin32, OP_ATOL, OP_RTOL, "linear bf16");
        assertClose(noBias16, noBias32, OP_ATOL, OP_RTOL, "linear without bias bf16");
        assertTrue(maxAbsDiff(conv16, conv32) > 0, "the bf16 path ran (its result is not float32's)");
        assertTrue(maxAbsDiff(lin16, lin32) > 0, "the bf16 path ran (its result is not float32's)");
        assertEquals(ai.djl.ndarray.types.DataType.FLOAT32, conv16.getDataType());
        assertEquals(2, Bfloat16.cachedWeights(), "one copy per weight array, reused across calls");
        assertSame(x.getManager(), conv16.getManager(), "results belong to the input's manager");
    }

    @Test
    void weightCopiesAreCachedPerArrayAndFreedWithTheWeight() {
        NDArray x = manager.randomNormal(new Shape(4, 16)); // (S, Cin)
        Bfloat16.setEnabled(true);
        try (NDManager model = manager.newSubManager()) {
            NDArray w = model.randomNormal(new Shape(8, 16));
            NDArray first = Bfloat16.cachedCopy(w);
            assertSame(first, Bfloat16.cachedCopy(w), "the second use finds the first copy");
            Ops.linear(x, w, null).close();
            assertEquals(1, Bfloat16.cachedWeights());
            NDArray replaced = model.randomNormal(new Shape(8, 16)); // what Param.set / a LoRA merge does
            Ops.linear(x, replaced, null).close();
            assertEquals(2, Bfloat16.cachedWeights());
            w.close();
            assertEquals(1, Bfloat16.cachedWeights(), "the copy of a closed weight is dropped");
            assertTrue(first.isReleased(), "and freed");
        }
        assertEquals(0, Bfloat16.cachedWeights(), "copies go with their weights' manager");
    }

    @Test
    void gradientsAndComposedModeKeepFloat32() {
        NDArray x = manager.randomNormal(new Shape(4, 16));
        NDArray w = manager.randomNormal(new Shape(8, 16));
        Bfloat16.setEnabled(false);
        float[] fp32 = Ops.linear(x, w, null).toFloatArray();
        Bfloat16.setEnabled(true);
        Ops.setMode(Ops.Mode.COMPOSED);
        assertArrayEquals(fp32, Ops.linear(x, w, null).toFloatArray(), "composed mode");
        Ops.setMode(null);
        w.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray y = Ops.linear(x, w, null);
            assertArrayEquals(fp32, y.toFloatArray(), "a weight with a gradient");
            gc.backward(y.sum());
        }
        assertEquals(0, Bfloat16.cachedWeights());
    }

    /**
     * The tiny UNet with motion modules: bf16 output within 5e-2 + 5e-2 |fp32| of float32 (the
     * benchmark measures the SD1.5-width error), and the float32 forward after bf16 bit-identical
     * to the one before.
     */
    @Test
    void tinyUNetInBfloat16MatchesFloat32() {
        UNet3DConditionModel unet =
                new UNet3DConditionModel(UNet2DConditionConfig.tiny(), MotionModuleConfig.tiny(true));
        unet.initialize(manager, 5);
        NDArray sample = manager.randomNormal(new Shape(1, 4, 4, 8, 8)); // (B, C, F, H, W)
        NDArray t = manager.create(500f);
        NDArray text = manager.randomNormal(
                new Shape(1, 77, UNet2DConditionConfig.tiny().crossAttentionDim()));
        Bfloat16.setEnabled(false);
        NDArray fp32 = unet.forward(sample, t, text);
        Bfloat16.setEnabled(true);
        NDArray bf16 = unet.forward(sample, t, text);
        assertTrue(Bfloat16.cachedWeights() > 10, "the UNet's convs and linears ran in bf16");
        assertEquals(
                Bf16Copies.bytes(unet),
                Bfloat16.cachedBytes(),
                "the copies one forward makes are what a model cache reserves for them");
        Bfloat16.setEnabled(false);
        NDArray again = unet.forward(sample, t, text);
        assertClose(bf16, fp32, 5e-2, 5e-2, "tiny UNet bf16 vs fp32");
        assertTrue(maxAbsDiff(bf16, fp32) > 0, "the bf16 forward differs from float32");
        assertArrayEquals(fp32.toFloatArray(), again.toFloatArray(), "off again: float32 exactly");
    }
}
