package io.animatediff.engine.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
    private static NDManager manager;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    static float[] randomFloats(long seed, int n) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian() * 3;
        }
        return v;
    }

    static byte[] bytesOf(NDArray a) {
        ByteBuffer b = a.toByteBuffer();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    @Test
    void f32AndF16RoundTripBitExact() throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        NDArray base = manager.create(randomFloats(1, 2 * 3 * 5), new Shape(2, 3, 5));
        tensors.put("w32", base);
        tensors.put("w16", base.toType(DataType.FLOAT16, false));
        tensors.put("w64", base.toType(DataType.FLOAT64, false));
        tensors.put("scalar", manager.create(7.25f));
        tensors.put("empty", manager.create(new Shape(0, 4), DataType.FLOAT32));
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt", "note", "ünïcode"));

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("w32", "w16", "w64", "scalar", "empty"), f.keys());
            assertEquals(Map.of("format", "pt", "note", "ünïcode"), f.metadata());
            assertEquals(new TensorInfo("w16", Dtype.F16, new long[] {2, 3, 5}), f.info("w16"));
            assertEquals(new TensorInfo("scalar", Dtype.F32, new long[0]), f.info("scalar"));
            for (String k : f.keys()) {
                NDArray original = tensors.get(k);
                NDArray same = f.load(k, manager, original.getDataType());
                assertEquals(original.getShape(), same.getShape(), k);
                assertEquals(original.getDataType(), same.getDataType(), k);
                assertArrayEquals(bytesOf(original), bytesOf(same), k + " bytes");
                // The default load converts to FLOAT32 exactly as torch's cast does.
                NDArray f32 = f.load(k, manager);
                assertEquals(DataType.FLOAT32, f32.getDataType());
                assertArrayEquals(bytesOf(original.toType(DataType.FLOAT32, true)), bytesOf(f32), k + " as F32");
            }
            assertArrayEquals(base.toFloatArray(), f.loadFloats("w32"));
            assertArrayEquals(tensors.get("w16").toType(DataType.FLOAT32, true).toFloatArray(), f.loadFloats("w16"));
            assertArrayEquals(base.toFloatArray(), f.loadFloats("w64"));
            assertArrayEquals(new float[] {7.25f}, f.loadFloats("scalar"));
            assertEquals(0, f.loadFloats("empty").length);
        }
    }

    /** Values that exercise rounding: ties to even, NaN, infinities, subnormals, the largest float. */
    static float[] awkwardFloats() {
        return new float[] {
            0f,
            -0f,
            1f,
            -2.5f,
            Float.intBitsToFloat(0x3f808000),
            Float.intBitsToFloat(0x3f818000),
            Float.intBitsToFloat(0x3f80ffff),
            Float.NaN,
            Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY,
            Float.MIN_VALUE,
            Float.MAX_VALUE,
            1e-40f,
            3.14159265f,
            -65504f,
            1e30f
        };
    }

    @Test
    void bf16StorageRoundsLikeTorchAndReadsBackBitExact() throws IOException {
        float[] v = awkwardFloats();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("x", manager.create(v, new Shape(4, 4)));
        tensors.put("ids", manager.create(new int[] {1, 2}));
        Path file = dir.resolve("bf.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of(), Dtype.BF16);

        // expected: round to nearest even, NaN -> 0x7fc0 (c10::BFloat16 round_to_nearest_even)
        short[] expected = {
            0x0000,
            (short) 0x8000,
            0x3f80,
            (short) 0xc020,
            0x3f80,
            0x3f82,
            0x3f81,
            0x7fc0,
            0x7f80,
            (short) 0xff80,
            0x0000,
            0x7f80,
            0x0001,
            0x4049,
            (short) 0xc780,
            0x714a
        };
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(new TensorInfo("x", Dtype.BF16, new long[] {4, 4}), f.info("x"));
            assertEquals(Dtype.I32, f.info("ids").dtype(), "only floating arrays change dtype");
            ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            int data = (int) f.dataStart();
            float[] widened = new float[16];
            for (int i = 0; i < 16; i++) {
                short bits = raw.getShort(data + 2 * i);
                assertEquals(expected[i], bits, "bf16 of element " + i + " = " + v[i]);
                widened[i] = Float.intBitsToFloat((bits & 0xffff) << 16);
            }
            float[] back = f.load("x", manager).toFloatArray();
            for (int i = 0; i < 16; i++) {
                assertEquals(
                        Float.floatToRawIntBits(widened[i]),
                        Float.floatToRawIntBits(back[i]),
                        "widening is exact, element " + i);
            }
            assertArrayEquals(widened, f.loadFloats("x"));
            // BF16 -> F16 goes through the exact F32 value: one rounding, torch's
            NDArray half = f.load("x", manager, DataType.FLOAT16);
            assertArrayEquals(
                    bytesOf(manager.create(widened, new Shape(4, 4)).toType(DataType.FLOAT16, false)), bytesOf(half));
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> f.load("x", manager, DataType.BFLOAT16));
            assertTrue(
                    e.getMessage().contains("no BFLOAT16 arrays")
                            && e.getMessage().contains("'x'"),
                    e.getMessage());
        }
    }

    @Test
    void f16StorageFromF32() throws IOException {
        NDArray x = manager.create(randomFloats(9, 12), new Shape(3, 4));
        Path file = dir.resolve("h.safetensors");
        SafetensorsWriter.write(file, Map.of("x", x), Map.of(), Dtype.F16);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Dtype.F16, f.info("x").dtype());
            assertArrayEquals(
                    bytesOf(x.toType(DataType.FLOAT16, false)), bytesOf(f.load("x", manager, DataType.FLOAT16)));
        }
    }

    @Test
    void f32LoadsAsF16AndF64Targets() throws IOException {
        NDArray base = manager.create(randomFloats(2, 64), new Shape(8, 8));
        Path file = dir.resolve("a.safetensors");
        SafetensorsWriter.write(file, Map.of("x", base), Map.of());
        try (TensorSource f = TensorSources.open(file)) {
            assertEquals("safetensors", f.format());
            for (DataType t : List.of(DataType.FLOAT16, DataType.FLOAT64)) {
                NDArray got = f.load("x", manager, t);
                assertEquals(t, got.getDataType());
                assertArrayEquals(bytesOf(base.toType(t, true)), bytesOf(got), t.toString());
            }
        }
    }

    @Test
    void writerLayoutMatchesReference() throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("b", manager.create(new float[] {1, 2, 3}));
        tensors.put("a", manager.create(new float[] {4}).toType(DataType.FLOAT16, false));
        Path file = dir.resolve("layout.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to 8 bytes");
        String header = new String(all, 8, (int) n, StandardCharsets.UTF_8);
        assertEquals(
                "{\"__metadata__\":{\"format\":\"pt\"},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                        + "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[12,14]}}",
                header.stripTrailing());
        assertTrue(header.endsWith(" ") || header.endsWith("}"));
        assertEquals(8 + n + 14, all.length);
        try (var listing = Files.list(dir)) {
            assertEquals(1, listing.count(), "no temporary file left behind");
        }
    }

    @Test
    void readsAHandWrittenReferenceFile() throws IOException {
        // Bytes as huggingface safetensors writes {"a": float32 [2]} without metadata.
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        byte[] h = (json + " ".repeat((8 - json.length() % 8) % 8)).getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).putFloat(1.5f).putFloat(-2f);
        Path file = dir.resolve("ref.safetensors");
        Files.write(file, b.array());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new float[] {1.5f, -2f}, f.load("a", manager).toFloatArray());
            assertEquals(Map.of(), f.metadata());
        }
    }

    @Test
    void integerTensorsLoadOnlyAsTheirOwnType() throws IOException {
        Path file = dir.resolve("ids.safetensors");
        SafetensorsWriter.write(file, Map.of("ids", manager.create(new long[] {0, 1, 76})), Map.of());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(
                    new long[] {0, 1, 76},
                    f.load("ids", manager, DataType.INT64).toLongArray());
            assertArrayEquals(new float[] {0, 1, 76}, f.loadFloats("ids"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.load("ids", manager));
            assertTrue(e.getMessage().contains("'ids'") && e.getMessage().contains("I64"), e.getMessage());
        }
    }

    @Test
    void absentKeyNamesKeyAndFile() throws IOException {
        Path file = dir.resolve("one.safetensors");
        SafetensorsWriter.write(file, Map.of("x", manager.create(1f)), Map.of());
        SafetensorsFile f = SafetensorsFile.open(file);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.info("nope"));
        assertTrue(e.getMessage().contains("'nope'") && e.getMessage().contains(file.toString()), e.getMessage());
        f.load("x", manager).close();
        f.close();
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> f.load("x", manager));
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
    }

    @Test
    void loadedArrayOutlivesTheFileAndIsWritable() throws IOException {
        Path file = dir.resolve("w.safetensors");
        SafetensorsWriter.write(file, Map.of("x", manager.create(new float[] {1, 2})), Map.of());
        NDArray x;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            x = f.load("x", manager);
        }
        Files.delete(file);
        x.addi(1f); // owned memory: an in-place update must not touch the (gone) mapping
        assertArrayEquals(new float[] {2, 3}, x.toFloatArray());
    }

    @Test
    void tensorsSpreadOverManyMapChunks() throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (int i = 0; i < 7; i++) {
            tensors.put("t" + i, manager.create(new float[] {i, i + 0.5f, -i}));
        }
        for (Dtype stored : List.of(Dtype.F32, Dtype.BF16)) {
            Path file = dir.resolve("chunks-" + stored + ".safetensors");
            SafetensorsWriter.write(file, tensors, Map.of(), stored);
            // 8-byte chunks: every tensor (12 or 6 bytes) gets its own map, or shares one with the next
            try (SafetensorsFile f = SafetensorsFile.open(file, SafetensorsFile.MAX_HEADER_BYTES, 8)) {
                for (int i = 0; i < 7; i++) {
                    float[] expected = {i, i + 0.5f, -i};
                    assertArrayEquals(expected, f.loadFloats("t" + i), stored + " t" + i);
                    assertArrayEquals(expected, f.load("t" + i, manager).toFloatArray(), stored + " t" + i);
                }
            }
        }
    }

    @Test
    void dtypeNames() {
        for (Dtype d : Dtype.values()) {
            assertEquals(d, Dtype.fromSafetensors(d.safetensorsName()));
            assertEquals(d, Dtype.fromDataType(d.toDataType()));
            assertEquals(d.toDataType().getNumOfBytes(), d.byteSize());
        }
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Dtype.fromSafetensors("F8_E4M3"));
        assertTrue(e.getMessage().contains("F8_E4M3") && e.getMessage().contains("BF16"), e.getMessage());
    }
}
