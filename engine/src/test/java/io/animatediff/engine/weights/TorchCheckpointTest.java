package io.animatediff.engine.weights;

import static io.animatediff.engine.weights.TorchZipWriter.Tensor.contiguous;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.weights.TorchZipWriter.OrderedDict;
import io.animatediff.engine.weights.TorchZipWriter.Storage;
import io.animatediff.engine.weights.TorchZipWriter.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchCheckpointTest {
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

    static float[] ramp(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (i - n / 2) * scale;
        }
        return v;
    }

    /** A motion-module-like checkpoint exercising every tensor layout torch.save produces. */
    private Path motionModule(boolean wrap) throws IOException {
        // (3, 4) fp32 weight, contiguous
        Storage w = TorchZipWriter.f32("0", ramp(12, 0.5f));
        // fp16 bias; halves of small multiples of 1/8 are exact
        Storage b = TorchZipWriter.f16("1", ramp(4, 0.125f));
        // a transposed view: storage holds (2, 3) row-major, the tensor is its (3, 2) transpose
        Storage t = TorchZipWriter.f32("2", 1, 2, 3, 4, 5, 6);
        // one storage shared by two tensors at different offsets
        Storage shared = TorchZipWriter.f32("3", ramp(10, 1f));
        Storage pe = TorchZipWriter.bf16("4", 1f, -2f, 0.5f, 3f);
        Storage ids = TorchZipWriter.i64("5", 0, 1, 2);
        OrderedDict sd = new OrderedDict(true);
        sd.put("proj_in.weight", contiguous(w, 0, 3, 4).asParameter());
        sd.put("proj_in.bias", contiguous(b, 0, 4));
        sd.put("transposed", new Tensor(t, 0, new long[] {3, 2}, new long[] {1, 3}, false));
        sd.put("shared.first", contiguous(shared, 1, 2, 2));
        sd.put("shared.second", contiguous(shared, 6, 4));
        sd.put("pos.bf16", contiguous(pe, 0, 1, 4));
        sd.put("scalar", contiguous(TorchZipWriter.f32("6", 42f), 0));
        sd.put("position_ids", contiguous(ids, 0, 3));
        Object root = sd;
        if (wrap) {
            Map<String, Object> top = new LinkedHashMap<>();
            top.put("epoch", 3);
            top.put("global_step", 123456789L);
            top.put("state_dict", sd);
            top.put("lr", 1e-4);
            top.put("name", "mm_sd_v15");
            top.put("flags", List.of(true, false));
            top.put("loss", null);
            root = top;
        }
        Path file = dir.resolve(wrap ? "mm_wrapped.ckpt" : "mm_plain.ckpt");
        TorchZipWriter.save(file, wrap ? "mm_wrapped" : "archive", root);
        return file;
    }

    @Test
    void readsEveryLayoutTorchSaveWrites() throws IOException {
        for (boolean wrap : new boolean[] {true, false}) {
            try (TensorSource ckpt = TensorSources.open(motionModule(wrap))) {
                assertInstanceOf(TorchCheckpoint.class, ckpt);
                assertEquals("torch-zip", ckpt.format());
                assertEquals(Map.of(), ckpt.metadata());
                assertEquals(
                        List.of(
                                "proj_in.weight",
                                "proj_in.bias",
                                "transposed",
                                "shared.first",
                                "shared.second",
                                "pos.bf16",
                                "scalar",
                                "position_ids"),
                        ckpt.keys());
                assertEquals(
                        new TensorInfo("proj_in.weight", Dtype.F32, new long[] {3, 4}), ckpt.info("proj_in.weight"));
                assertEquals(new TensorInfo("proj_in.bias", Dtype.F16, new long[] {4}), ckpt.info("proj_in.bias"));

                NDArray w = ckpt.load("proj_in.weight", manager);
                assertEquals(new Shape(3, 4), w.getShape());
                assertArrayEquals(ramp(12, 0.5f), w.toFloatArray());

                NDArray bias = ckpt.load("proj_in.bias", manager);
                assertEquals(DataType.FLOAT32, bias.getDataType());
                assertArrayEquals(ramp(4, 0.125f), bias.toFloatArray());
                NDArray bias16 = ckpt.load("proj_in.bias", manager, DataType.FLOAT16);
                assertEquals(DataType.FLOAT16, bias16.getDataType());
                assertArrayEquals(
                        ramp(4, 0.125f), bias16.toType(DataType.FLOAT32, false).toFloatArray());

                // transpose of [[1,2,3],[4,5,6]]
                NDArray tr = ckpt.load("transposed", manager);
                assertEquals(new Shape(3, 2), tr.getShape());
                assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, tr.toFloatArray());
                assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, ckpt.loadFloats("transposed"));

                float[] sharedValues = ramp(10, 1f);
                assertArrayEquals(
                        Arrays.copyOfRange(sharedValues, 1, 5),
                        ckpt.load("shared.first", manager).toFloatArray());
                assertArrayEquals(
                        Arrays.copyOfRange(sharedValues, 6, 10),
                        ckpt.load("shared.second", manager).toFloatArray());
                assertArrayEquals(
                        new float[] {1f, -2f, 0.5f, 3f},
                        ckpt.load("pos.bf16", manager).toFloatArray());
                NDArray scalar = ckpt.load("scalar", manager);
                assertEquals(new Shape(), scalar.getShape());
                assertEquals(42f, scalar.getFloat());
                assertArrayEquals(
                        new long[] {0, 1, 2},
                        ckpt.load("position_ids", manager, DataType.INT64).toLongArray());
                assertThrows(IllegalArgumentException.class, () -> ckpt.load("position_ids", manager));
            }
        }
    }

    @Test
    void writerProducesTorchLayout() throws IOException {
        Path file = motionModule(true);
        byte[] all = Files.readAllBytes(file);
        assertEquals('P', all[0]);
        assertEquals(
                0x0808,
                ByteBuffer.wrap(all, 6, 2).order(ByteOrder.LITTLE_ENDIAN).getShort());
        try (ZipFile zip = new ZipFile(file.toFile())) {
            assertEquals("mm_wrapped/data.pkl", zip.entries().nextElement().getName());
            assertTrue(zip.getEntry("mm_wrapped/data/3") != null);
            assertTrue(zip.getEntry("mm_wrapped/.data/serialization_id") != null);
        }
        // every record's data starts on a 64-byte boundary: find "FB" padding headers
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int records = 0;
        for (int at = 0; b.getInt(at) == 0x04034b50; records++) {
            int nameLen = b.getShort(at + 26);
            int extraLen = b.getShort(at + 28);
            int data = at + 30 + nameLen + extraLen;
            assertEquals(0, data % 64, "record " + records + " data offset " + data);
            assertEquals('F', all[at + 30 + nameLen]);
            int descriptor = indexOfDescriptor(all, data);
            assertEquals(descriptor - data, b.getInt(descriptor + 8), "descriptor holds the record size");
            at = descriptor + 16;
        }
        assertEquals(13, records);
    }

    private static int indexOfDescriptor(byte[] all, int from) {
        for (int i = from; i + 3 < all.length; i++) {
            if (all[i] == 'P' && all[i + 1] == 'K' && all[i + 2] == 7 && all[i + 3] == 8) {
                return i;
            }
        }
        throw new AssertionError("no data descriptor after " + from);
    }

    @Test
    void absentKeyNamesKeyAndFile() throws IOException {
        Path file = motionModule(false);
        try (TorchCheckpoint ckpt = TorchCheckpoint.open(file)) {
            assertFalse(ckpt.contains("global_step"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ckpt.info("nope.weight"));
            assertTrue(
                    e.getMessage().contains("'nope.weight'") && e.getMessage().contains(file.toString()));
        }
    }

    @Test
    void missingStorageRecord() throws IOException {
        Storage w = TorchZipWriter.f32("0", 1, 2);
        Map<String, Object> sd = new LinkedHashMap<>();
        sd.put("w", contiguous(w, 0, 2));
        Path good = dir.resolve("good.ckpt");
        TorchZipWriter.save(good, "archive", sd);
        // same pickle, no storages
        byte[] pkl;
        try (ZipFile zip = new ZipFile(good.toFile())) {
            pkl = zip.getInputStream(zip.getEntry("archive/data.pkl")).readAllBytes();
        }
        Path bad = dir.resolve("nostorage.ckpt");
        TorchZipWriter.writeArchive(bad, "archive", pkl, List.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TorchCheckpoint.open(bad));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("archive/data/0"), e.getMessage());
        // storage shorter than the pickle declares
        TorchZipWriter.writeArchive(bad, "archive", pkl, List.of(TorchZipWriter.f32("0", 1)));
        e = assertThrows(IllegalArgumentException.class, () -> TorchCheckpoint.open(bad));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void viewBeyondItsStorage() throws IOException {
        Storage w = TorchZipWriter.f32("0", 1, 2, 3);
        Path file = dir.resolve("oob.ckpt");
        TorchZipWriter.save(file, "archive", Map.of("w", contiguous(w, 2, 2)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TorchCheckpoint.open(file));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("reaches element 3"), e.getMessage());
    }

    @Test
    void truncatedArchive() throws IOException {
        Path file = motionModule(false);
        byte[] all = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(all, all.length / 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void topLevelMustBeADict() throws IOException {
        Path file = dir.resolve("list.ckpt");
        TorchZipWriter.save(file, "archive", List.of(1, 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TorchCheckpoint.open(file));
        assertTrue(e.getMessage().contains("a list") && e.getMessage().contains("expected a dict"), e.getMessage());
    }

    @Test
    void torchScriptArchiveIsNamed() throws IOException {
        Map<String, byte[]> records = new LinkedHashMap<>();
        records.put("data.pkl", new PickleBytes().proto(2).op('}').stop().bytes());
        records.put("constants.pkl", new PickleBytes().proto(2).op(')').stop().bytes());
        records.put("version", "3\n".getBytes());
        Path file = dir.resolve("script.pt");
        Files.write(file, TorchZipWriter.zip("sdpa", records));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(file));
        assertTrue(e.getMessage().contains("TorchScript"), e.getMessage());
    }

    @Test
    void legacyNonZipPickleIsNamed() throws IOException {
        Path file = dir.resolve("old.ckpt");
        // torch < 1.6 wrote a bare pickle stream starting with the magic number
        Files.write(
                file,
                new PickleBytes()
                        .proto(2)
                        .op(0x8a)
                        .op(10)
                        .raw(new byte[10])
                        .stop()
                        .bytes());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(file));
        assertTrue(e.getMessage().contains("legacy") && e.getMessage().contains("torch>=1.6"), e.getMessage());
        assertTrue(e.getMessage().contains("safetensors"), e.getMessage());
    }

    @Test
    void protocol4PickleWithFramesAndMemoize() throws IOException {
        // {"w": _rebuild_tensor_v2(storage, 0, (2,), (1,), False, OrderedDict())} as protocol 4 writes it
        PickleBytes p = new PickleBytes().proto(4).op(0x95).le(0, 8);
        p.op('}').op(0x94).str("w", true).op(0x94);
        p.str("torch._utils", true)
                .op(0x94)
                .str("_rebuild_tensor_v2", true)
                .op(0x94)
                .op(0x93)
                .op(0x94);
        p.mark().mark().str("storage", true).op(0x94);
        p.str("torch", true).op(0x94).str("HalfStorage", true).op(0x94).op(0x93).op(0x94);
        p.str("0", true)
                .op(0x94)
                .str("cpu", true)
                .op(0x94)
                .integer(2)
                .op('t')
                .op(0x94)
                .op('Q');
        p.integer(0).integer(2).op(0x85).op(0x94).integer(1).op(0x85).op(0x94).op(0x89);
        p.str("collections", true)
                .op(0x94)
                .str("OrderedDict", true)
                .op(0x94)
                .op(0x93)
                .op(0x94);
        p.op(')').op('R').op(0x94).op('t').op(0x94).op('R').op(0x94).op('s').stop();
        Path file = dir.resolve("p4.ckpt");
        TorchZipWriter.writeArchive(file, "archive", p.bytes(), List.of(TorchZipWriter.f16("0", 1.5f, -0.25f)));
        try (TorchCheckpoint ckpt = TorchCheckpoint.open(file)) {
            assertArrayEquals(
                    new float[] {1.5f, -0.25f}, ckpt.load("w", manager).toFloatArray());
        }
    }
}
