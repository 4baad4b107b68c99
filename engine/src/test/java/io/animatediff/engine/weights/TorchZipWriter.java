package io.animatediff.engine.weights;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32;

/**
 * Test scope: writes checkpoints the way {@code torch.save} does. The archive follows
 * PyTorchStreamWriter (miniz): stored records under one top folder, each local header padded with an
 * "FB" extra field so the record's data starts on a 64-byte boundary, local headers with the
 * data-descriptor flag (0x0808) and zero sizes followed by a data descriptor, then the central
 * directory and zip64 end records. data.pkl is a protocol-2 pickle like Python's Pickler emits:
 * GLOBAL for classes and functions, BINPUT after each memoized object, BINPERSID storages
 * ('storage', torch.FloatStorage, key, 'cpu', numel) and {@code _rebuild_tensor_v2} reduces.
 */
final class TorchZipWriter {
    static final int ALIGNMENT = 64;

    /** One storage: key and little-endian bytes of {@code dtype} elements. */
    record Storage(String key, Dtype dtype, byte[] bytes) {
        long numel() {
            return bytes.length / dtype.byteSize();
        }

        String storageClass() {
            return switch (dtype) {
                case F64 -> "DoubleStorage";
                case F32 -> "FloatStorage";
                case F16 -> "HalfStorage";
                case BF16 -> "BFloat16Storage";
                case I64 -> "LongStorage";
                case I32 -> "IntStorage";
                case I16 -> "ShortStorage";
                case I8 -> "CharStorage";
                case U8 -> "ByteStorage";
                case BOOL -> "BoolStorage";
            };
        }
    }

    /** A torch tensor: a strided view (elements) of a storage. */
    record Tensor(Storage storage, long offset, long[] size, long[] stride, boolean parameter) {
        /** A row-major view of {@code size} starting at {@code offset}. */
        static Tensor contiguous(Storage s, long offset, long... size) {
            long[] stride = new long[size.length];
            long st = 1;
            for (int i = size.length - 1; i >= 0; i--) {
                stride[i] = st;
                st *= size[i];
            }
            return new Tensor(s, offset, size, stride, false);
        }

        Tensor asParameter() {
            return new Tensor(storage, offset, size, stride, true);
        }
    }

    /** A Python OrderedDict as {@code module.state_dict()} returns it (with a {@code _metadata} attribute). */
    static final class OrderedDict extends LinkedHashMap<String, Object> {
        final boolean withMetadata;

        OrderedDict(boolean withMetadata) {
            this.withMetadata = withMetadata;
        }
    }

    private TorchZipWriter() {}

    static Storage f32(String key, float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return new Storage(key, Dtype.F32, b.array());
    }

    /** Half storage; values must be exactly representable in binary16. */
    static Storage f16(String key, float... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putShort(floatToHalf(f));
        }
        return new Storage(key, Dtype.F16, b.array());
    }

    static Storage bf16(String key, float... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putShort((short) (Float.floatToIntBits(f) >>> 16));
        }
        return new Storage(key, Dtype.BF16, b.array());
    }

    static Storage i64(String key, long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(v);
        return new Storage(key, Dtype.I64, b.array());
    }

    /** Exact float -> binary16 for values that are representable (normal or zero). */
    static short floatToHalf(float f) {
        int bits = Float.floatToIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = ((bits >>> 23) & 0xff) - 127 + 15;
        int mant = bits & 0x7fffff;
        if ((bits & 0x7fffffff) == 0) {
            return (short) sign;
        }
        if (exp <= 0 || exp >= 31 || (mant & 0x1fff) != 0) {
            throw new IllegalArgumentException(f + " is not exactly representable as a normal half");
        }
        return (short) (sign | (exp << 10) | (mant >>> 13));
    }

    /** Pickles {@code obj} like torch.save and writes the archive with top folder {@code top}. */
    static void save(Path file, String top, Object obj) throws IOException {
        Map<String, Storage> storages = new TreeMap<>();
        byte[] pkl = new Pickler(storages).dump(obj);
        writeArchive(file, top, pkl, storages.values());
    }

    /** Writes an archive around a given data.pkl (for hand-made, e.g. malicious, pickles). */
    static void writeArchive(Path file, String top, byte[] dataPkl, Iterable<Storage> storages) throws IOException {
        Map<String, byte[]> records = new LinkedHashMap<>();
        records.put("data.pkl", dataPkl);
        records.put(".format_version", "1".getBytes(StandardCharsets.US_ASCII));
        records.put(".storage_alignment", "64".getBytes(StandardCharsets.US_ASCII));
        records.put("byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        for (Storage s : storages) {
            records.put("data/" + s.key(), s.bytes());
        }
        records.put("version", "3\n".getBytes(StandardCharsets.US_ASCII));
        records.put(
                ".data/serialization_id",
                "1234567890123456789012345678901234567890".getBytes(StandardCharsets.US_ASCII));
        Files.write(file, zip(top, records));
    }

    /** The zip bytes PyTorchStreamWriter produces for these records, in order. */
    static byte[] zip(String top, Map<String, byte[]> records) {
        Out out = new Out();
        Out central = new Out();
        int count = 0;
        for (Map.Entry<String, byte[]> r : records.entrySet()) {
            byte[] name = (top + "/" + r.getKey()).getBytes(StandardCharsets.UTF_8);
            byte[] data = r.getValue();
            CRC32 crc = new CRC32();
            crc.update(data);
            long headerOffset = out.size();
            // "FB" padding so that the data starts on a 64-byte boundary
            long start = headerOffset + 30 + name.length + 4;
            int padding = (int) ((ALIGNMENT - start % ALIGNMENT) % ALIGNMENT);
            out.le(0x04034b50L, 4).le(0, 2).le(0x0808, 2).le(0, 2).le(0, 2).le(0, 2);
            out.le(0, 4).le(0, 4).le(0, 4).le(name.length, 2).le(4 + padding, 2);
            out.bytes(name).bytes(new byte[] {'F', 'B'}).le(padding, 2);
            for (int i = 0; i < padding; i++) {
                out.bytes(new byte[] {'Z'});
            }
            if (out.size() % ALIGNMENT != 0) {
                throw new IllegalStateException("misaligned record " + r.getKey());
            }
            out.bytes(data);
            out.le(0x08074b50L, 4).le(crc.getValue(), 4).le(data.length, 4).le(data.length, 4);
            central.le(0x02014b50L, 4)
                    .le(0, 2)
                    .le(0, 2)
                    .le(0x0808, 2)
                    .le(0, 2)
                    .le(0, 2)
                    .le(0, 2);
            central.le(crc.getValue(), 4).le(data.length, 4).le(data.length, 4).le(name.length, 2);
            central.le(0, 2)
                    .le(0, 2)
                    .le(0, 2)
                    .le(0, 2)
                    .le(0, 4)
                    .le(headerOffset, 4)
                    .bytes(name);
            count++;
        }
        long cdOffset = out.size();
        long cdSize = central.size();
        out.bytes(central.toByteArray());
        long zip64Offset = out.size();
        // zip64 end of central directory record and locator, then the classic end record
        out.le(0x06064b50L, 4).le(44, 8).le(0x2d, 2).le(0x2d, 2).le(0, 4).le(0, 4);
        out.le(count, 8).le(count, 8).le(cdSize, 8).le(cdOffset, 8);
        out.le(0x07064b50L, 4).le(0, 4).le(zip64Offset, 8).le(1, 4);
        out.le(0x06054b50L, 4).le(0, 2).le(0, 2).le(count, 2).le(count, 2);
        out.le(cdSize, 4).le(cdOffset, 4).le(0, 2);
        return out.toByteArray();
    }

    private static final class Out extends ByteArrayOutputStream {
        Out le(long v, int n) {
            for (int i = 0; i < n; i++) {
                write((int) (v >>> (8 * i)) & 0xff);
            }
            return this;
        }

        Out bytes(byte[] b) {
            writeBytes(b);
            return this;
        }
    }

    /** Python's protocol-2 Pickler over the values a torch state dict holds. */
    private static final class Pickler {
        private final PickleBytes p = new PickleBytes();
        private final Map<String, Storage> storages;
        private final Map<Object, Integer> memo = new IdentityHashMap<>();
        private final Map<String, Integer> globals = new LinkedHashMap<>();
        private final Map<String, Integer> strings = new LinkedHashMap<>();
        private int next;

        Pickler(Map<String, Storage> storages) {
            this.storages = storages;
        }

        byte[] dump(Object obj) {
            p.proto(2);
            save(obj);
            return p.stop().bytes();
        }

        private int memoize() {
            p.put(next);
            return next++;
        }

        private void global(String module, String name) {
            String q = module + "\n" + name;
            Integer at = globals.get(q);
            if (at != null) {
                p.get(at);
                return;
            }
            p.global(module, name);
            globals.put(q, memoize());
        }

        private void save(Object o) {
            Integer seen = o == null || o instanceof String ? null : memo.get(o);
            if (seen != null) {
                p.get(seen);
                return;
            }
            if (o == null) {
                p.op('N');
            } else if (o instanceof Boolean b) {
                p.op(b ? 0x88 : 0x89);
            } else if (o instanceof Integer || o instanceof Long) {
                p.integer(((Number) o).longValue());
            } else if (o instanceof Double d) {
                p.binfloat(d);
            } else if (o instanceof String s) {
                Integer at = strings.get(s);
                if (at != null) {
                    p.get(at);
                } else {
                    p.str(s);
                    strings.put(s, memoize());
                }
            } else if (o instanceof Object[] tuple) {
                saveTuple(List.of(tuple));
            } else if (o instanceof List<?> list) {
                p.op(']');
                memo.put(o, memoize());
                if (!list.isEmpty()) {
                    p.mark();
                    list.forEach(this::save);
                    p.op('e');
                }
            } else if (o instanceof OrderedDict od) {
                // OrderedDict.__reduce__: (OrderedDict, (), vars(self) or None, None, iter(items))
                global("collections", "OrderedDict");
                p.op(')').op('R');
                memo.put(o, memoize());
                setItems(od);
                if (od.withMetadata) {
                    OrderedDict meta = new OrderedDict(false);
                    Map<String, Object> v = new LinkedHashMap<>();
                    v.put("version", 1);
                    meta.put("", v);
                    Map<String, Object> state = new LinkedHashMap<>();
                    state.put("_metadata", meta);
                    save(state);
                    p.op('b');
                }
            } else if (o instanceof Map<?, ?> dict) {
                p.op('}');
                memo.put(o, memoize());
                setItems(dict);
            } else if (o instanceof Tensor t) {
                saveTensor(t);
            } else {
                throw new IllegalArgumentException("cannot pickle " + o.getClass());
            }
        }

        private void setItems(Map<?, ?> dict) {
            if (dict.size() == 1) {
                Map.Entry<?, ?> e = dict.entrySet().iterator().next();
                save(e.getKey());
                save(e.getValue());
                p.op('s');
            } else if (dict.size() > 1) {
                p.mark();
                dict.forEach((k, v) -> {
                    save(k);
                    save(v);
                });
                p.op('u');
            }
        }

        private void saveTuple(List<Object> items) {
            if (items.isEmpty()) {
                p.op(')');
                return;
            }
            if (items.size() <= 3) {
                items.forEach(this::save);
                p.op(0x84 + items.size());
            } else {
                p.mark();
                items.forEach(this::save);
                p.op('t');
            }
            memoize();
        }

        private void saveTensor(Tensor t) {
            if (t.parameter()) {
                // Parameter.__reduce_ex__: (_rebuild_parameter, (data, requires_grad, OrderedDict()))
                global("torch._utils", "_rebuild_parameter");
                p.mark();
                saveTensor(new Tensor(t.storage(), t.offset(), t.size(), t.stride(), false));
                p.op(0x88);
                global("collections", "OrderedDict");
                p.op(')').op('R');
                memoize();
                p.op('t');
                memoize();
                p.op('R');
                memo.put(t, memoize());
                return;
            }
            global("torch._utils", "_rebuild_tensor_v2");
            p.mark();
            // persistent id: ('storage', torch.<Type>Storage, key, 'cpu', numel)
            Storage s = t.storage();
            storages.put(s.key(), s);
            p.mark();
            save("storage");
            global("torch", s.storageClass());
            save(s.key());
            save("cpu");
            p.integer(s.numel());
            p.op('t');
            memoize();
            p.op('Q');
            p.integer(t.offset());
            saveTuple(boxed(t.size()));
            saveTuple(boxed(t.stride()));
            p.op(0x89);
            global("collections", "OrderedDict");
            p.op(')').op('R');
            memoize();
            p.op('t');
            memoize();
            p.op('R');
            memo.put(t, memoize());
        }

        private static List<Object> boxed(long[] v) {
            return Arrays.stream(v).boxed().map(Object.class::cast).toList();
        }
    }
}
