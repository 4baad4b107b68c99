package io.animatediff.engine.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.nn.Param;
import io.animatediff.engine.ops.OpObserver.Kind;
import io.animatediff.engine.ops.Ops;
import io.animatediff.engine.unet.UNet3DConditionModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class EngineBenchmarkTest {
    @Test
    void flopCounterCountsOneConvAndOneLinearExactly() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(2, 3, 9, 7)); // (N, Cin, H, W)
            NDArray w = m.randomNormal(new Shape(5, 3, 3, 3)); // (Cout, Cin, k, k)
            NDArray b = m.zeros(new Shape(5));
            NDArray rows = m.randomNormal(new Shape(4, 6, 11)); // (..., Cin)
            NDArray lw = m.randomNormal(new Shape(13, 11)); // (Cout, Cin)
            long conv;
            long linear;
            try (FlopCounter c = FlopCounter.install()) {
                NDArray y = Ops.conv2d(x, w, b, 2, 1); // -> (2, 5, 5, 4)
                assertEquals(new Shape(2, 5, 5, 4), y.getShape());
                conv = c.flops(Kind.CONV);
                Ops.linear(rows, lw, null);
                linear = c.flops(Kind.LINEAR);
                assertEquals(1, c.calls(Kind.CONV));
                assertEquals(1, c.calls(Kind.LINEAR));
                assertEquals(conv + linear, c.flops());
            }
            assertEquals(2L * 2 * 5 * 5 * 4 * 3 * 3 * 3, conv);
            assertEquals(2L * (4 * 6) * 11 * 13, linear);
            // uninstalled: nothing more is counted
            FlopCounter idle = FlopCounter.install();
            idle.close();
            Ops.linear(rows, lw, null);
            assertEquals(0, idle.flops());
        }
    }

    @Test
    void attentionCountIsFourBNSqSkD() {
        try (NDManager m = NDManager.newBaseManager();
                FlopCounter c = FlopCounter.install()) {
            NDArray q = m.randomNormal(new Shape(2, 3, 5, 8)); // (B, N, Sq, D)
            NDArray k = m.randomNormal(new Shape(2, 3, 7, 8)); // (B, N, Sk, D)
            Ops.attention(q, k, k);
            assertEquals(4L * 2 * 3 * 5 * 7 * 8, c.flops(Kind.ATTENTION));
        }
    }

    @Test
    void fastInitFillsEveryParameterWithTorchBounds() {
        UNet3DConditionModel unet =
                new UNet3DConditionModel(UNet2DConditionConfig.tiny(), MotionModuleConfig.tiny(true));
        try (NDManager m = NDManager.newBaseManager()) {
            FastInit.initialize(unet, m, 3);
            var tensors = unet.namedTensors();
            for (var e : tensors.entrySet()) {
                Param p = e.getValue();
                assertTrue(p.isSet(), e.getKey());
                if (p.init() == Param.Init.FAN_IN_UNIFORM) {
                    double bound = 1 / Math.sqrt(FastInit.fanIn(e.getKey(), p, tensors));
                    float max = p.get().abs().max().getFloat();
                    assertTrue(max <= bound + 1e-6 && max > 0, e.getKey() + " max " + max + " bound " + bound);
                }
            }
            Param convIn = tensors.get("conv_in.bias"); // fan-in of conv_in.weight: 4 * 3 * 3
            assertEquals(36, FastInit.fanIn("conv_in.bias", convIn, tensors));
        }
    }

    @Test
    void benchmarkRunsOnTheTinyConfig() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        List<EngineBenchmark.Measurement> results =
                new EngineBenchmark(new EngineBenchmark.Options(false, 8, 4, 1, 128, 3, 8, false), out).run();
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(4, results.size(), text);
        for (EngineBenchmark.Measurement r : results) {
            assertTrue(
                    Double.isFinite(r.value()) && r.value() >= 0,
                    r + "\n" + text); // values only: timings are never asserted
        }
        assertEquals(
                4,
                text.lines()
                        .filter(l -> l.startsWith("PASS ") || l.startsWith("MISS "))
                        .count(),
                text);
        assertTrue(text.contains("2D UNet at 8x8"), text);
    }
}
