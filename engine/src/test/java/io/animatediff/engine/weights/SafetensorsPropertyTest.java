package io.animatediff.engine.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Random shapes, dtypes and bytes survive write/read round trips exactly. */
class SafetensorsPropertyTest {

    /** Dtypes DJL's PyTorch engine can hold as arrays (no BF16, no I16). */
    static final List<Dtype> ARRAY_DTYPES =
            List.of(Dtype.F64, Dtype.F32, Dtype.F16, Dtype.I64, Dtype.I32, Dtype.I8, Dtype.U8, Dtype.BOOL);

    record Spec(Dtype dtype, long[] shape, long seed) {
        byte[] bytes() {
            byte[] raw = new byte[(int) new TensorInfo("t", dtype, shape).byteSize()];
            new Random(seed).nextBytes(raw);
            if (dtype == Dtype.BOOL) {
                for (int j = 0; j < raw.length; j++) {
                    raw[j] &= 1;
                }
            }
            return raw;
        }
    }

    private static Arbitrary<List<Spec>> specs(List<Dtype> dtypes) {
        Arbitrary<Spec> one = Combinators.combine(
                        Arbitraries.of(dtypes),
                        Arbitraries.longs()
                                .between(0, 5)
                                .array(long[].class)
                                .ofMinSize(0)
                                .ofMaxSize(4),
                        Arbitraries.longs())
                .as(Spec::new);
        return one.list().ofMinSize(1).ofMaxSize(6);
    }

    @Provide
    Arbitrary<List<Spec>> arrayTensors() {
        return specs(ARRAY_DTYPES);
    }

    @Provide
    Arbitrary<List<Spec>> anyTensors() {
        return specs(List.of(Dtype.values()));
    }

    /** Our writer, then our reader: every byte of every array comes back. */
    @Property(tries = 30)
    void writerReaderRoundTripIsBitExact(@ForAll("arrayTensors") List<Spec> specs) throws IOException {
        Path dir = Files.createTempDirectory("st-prop");
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> written = new LinkedHashMap<>();
            for (int i = 0; i < specs.size(); i++) {
                Spec s = specs.get(i);
                byte[] raw = s.bytes();
                ByteBuffer direct = ByteBuffer.allocateDirect(raw.length).order(ByteOrder.nativeOrder());
                direct.put(raw).flip();
                Shape shape = new Shape(s.shape());
                written.put(
                        "t" + i,
                        raw.length == 0
                                ? manager.create(shape, s.dtype().toDataType())
                                : manager.create(direct, shape, s.dtype().toDataType())
                                        .duplicate());
            }
            Path file = dir.resolve("p.safetensors");
            SafetensorsWriter.write(file, written, Map.of("seed", "x"));
            try (TensorSource f = TensorSources.open(file)) {
                assertEquals(List.copyOf(written.keySet()), f.keys());
                for (int i = 0; i < specs.size(); i++) {
                    Spec s = specs.get(i);
                    String key = "t" + i;
                    assertEquals(new TensorInfo(key, s.dtype(), s.shape()), f.info(key));
                    NDArray back = f.load(key, manager, s.dtype().toDataType());
                    assertEquals(new Shape(s.shape()), back.getShape());
                    assertArrayEquals(s.bytes(), bytes(back), key + " " + s.dtype());
                }
            }
        } finally {
            delete(dir);
        }
    }

    /**
     * Files laid out straight from the format description (any dtype incl. BF16 and I16): the
     * reader's info, float decoding and FLOAT32 loads match an independent decoding of the bytes.
     */
    @Property(tries = 30)
    void readerDecodesSpecFiles(@ForAll("anyTensors") List<Spec> specs) throws IOException {
        Path dir = Files.createTempDirectory("st-prop");
        try (NDManager manager = NDManager.newBaseManager()) {
            Path file = dir.resolve("spec.safetensors");
            Files.write(file, specFile(specs));
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                for (int i = 0; i < specs.size(); i++) {
                    Spec s = specs.get(i);
                    String key = "t" + i;
                    assertEquals(new TensorInfo(key, s.dtype(), s.shape()), f.info(key));
                    float[] expected = decode(s.dtype(), s.bytes());
                    assertArrayEquals(expected, f.loadFloats(key), key + " " + s.dtype());
                    if (s.dtype().isFloating()) {
                        NDArray x = f.load(key, manager);
                        assertEquals(DataType.FLOAT32, x.getDataType());
                        assertArrayEquals(expected, x.toFloatArray(), key + " " + s.dtype() + " as FLOAT32");
                    }
                }
            }
        } finally {
            delete(dir);
        }
    }

    /** Header {"t0": {...}, ...} with tensors stored back to back, padded like the reference. */
    private static byte[] specFile(List<Spec> specs) {
        long offset = 0;
        StringBuilder json = new StringBuilder("{");
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (int i = 0; i < specs.size(); i++) {
            Spec s = specs.get(i);
            byte[] b = s.bytes();
            json.append(i == 0 ? "" : ",")
                    .append("\"t")
                    .append(i)
                    .append("\":{\"dtype\":\"")
                    .append(s.dtype().safetensorsName())
                    .append("\",\"shape\":[")
                    .append(Arrays.stream(s.shape()).mapToObj(Long::toString).collect(Collectors.joining(",")))
                    .append("],\"data_offsets\":[")
                    .append(offset)
                    .append(",")
                    .append(offset + b.length)
                    .append("]}");
            offset += b.length;
            data.writeBytes(b);
        }
        json.append("}");
        while (json.length() % 8 != 0) {
            json.append(' ');
        }
        byte[] h = json.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.size()).order(ByteOrder.LITTLE_ENDIAN);
        return out.putLong(h.length).put(h).put(data.toByteArray()).array();
    }

    /** Reference decoding, written independently of the reader (BigDecimal-free but per dtype spec). */
    private static float[] decode(Dtype dtype, byte[] raw) {
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        int n = raw.length / dtype.byteSize();
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (dtype) {
                case F64 -> (float) b.getDouble(8 * i);
                case F32 -> b.getFloat(4 * i);
                case F16 -> half(b.getShort(2 * i));
                case BF16 -> Float.intBitsToFloat(b.getShort(2 * i) << 16);
                case I64 -> b.getLong(8 * i);
                case I32 -> b.getInt(4 * i);
                case I16 -> b.getShort(2 * i);
                case I8 -> raw[i];
                case U8, BOOL -> raw[i] & 0xff;
            };
        }
        return out;
    }

    /** binary16 by its definition: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024. */
    private static float half(short bits) {
        int s = (bits >> 15) & 1;
        int e = (bits >> 10) & 0x1f;
        int m = bits & 0x3ff;
        double sign = s == 1 ? -1 : 1;
        if (e == 0x1f) {
            return m == 0 ? (float) (sign * Double.POSITIVE_INFINITY) : Float.NaN;
        }
        if (e == 0) {
            return (float) (sign * Math.scalb(m / 1024.0, -14));
        }
        return (float) (sign * Math.scalb(1 + m / 1024.0, e - 15));
    }

    private static byte[] bytes(NDArray a) {
        if (a.size() == 0) {
            return new byte[0];
        }
        ByteBuffer b = a.toByteBuffer();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private static void delete(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
