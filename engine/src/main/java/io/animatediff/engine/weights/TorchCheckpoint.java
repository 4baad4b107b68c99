package io.animatediff.engine.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.animatediff.engine.weights.RestrictedUnpickler.PDict;
import io.animatediff.engine.weights.RestrictedUnpickler.StorageRef;
import io.animatediff.engine.weights.RestrictedUnpickler.TensorRef;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * A PyTorch zip checkpoint as {@code torch.save} writes it (torch >= 1.6): a zip of stored records
 * under one top folder, {@code <top>/data.pkl} (the pickled state dict) and one record {@code
 * <top>/data/<key>} per storage; {@code byteorder}, {@code version} and other side records are
 * optional. The pickle runs through {@link RestrictedUnpickler}, which only rebuilds tensors and
 * dicts. A top-level {@code {"state_dict": {...}}} wrapper is unwrapped; non-tensor entries (e.g.
 * {@code global_step}) are skipped. Tensors are read lazily, strided views gathered into
 * contiguous arrays.
 */
public final class TorchCheckpoint implements TensorSource {

    /** Largest data.pkl accepted; a state dict's pickle is a few hundred KB. */
    static final long MAX_PICKLE_BYTES = 256L << 20;

    private final Path path;
    private final ZipFile zip;
    private final Map<String, Tensor> tensors;
    private final List<String> keys;
    private volatile boolean closed;

    /** One tensor: its info, the storage record and its strided view (elements). */
    private record Tensor(TensorInfo info, ZipEntry record, long offset, long[] stride) {}

    private TorchCheckpoint(Path path, ZipFile zip, Map<String, Tensor> tensors) {
        this.path = path;
        this.zip = zip;
        this.tensors = tensors;
        this.keys = List.copyOf(tensors.keySet());
    }

    /** Opens a checkpoint, runs its pickle and validates every tensor against its storage record. */
    public static TorchCheckpoint open(Path file) throws IOException {
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new IllegalArgumentException("invalid torch checkpoint " + file + ": not a readable zip archive ("
                    + e.getMessage() + "); the file may be truncated: re-download it");
        }
        try {
            return read(file, zip);
        } catch (IOException | RuntimeException e) {
            zip.close();
            throw e;
        }
    }

    private static TorchCheckpoint read(Path file, ZipFile zip) throws IOException {
        // 1. the archive's top folder, as torch finds it: the folder of the first record
        Enumeration<? extends ZipEntry> all = zip.entries();
        if (!all.hasMoreElements()) {
            throw bad(file, "the zip archive is empty");
        }
        String first = all.nextElement().getName();
        int slash = first.indexOf('/');
        if (slash <= 0) {
            throw bad(file, "record '" + first + "' is not inside a top folder, so this is no torch.save archive");
        }
        String top = first.substring(0, slash + 1);
        if (zip.getEntry(top + "constants.pkl") != null || zip.getEntry(top + "code/") != null) {
            throw bad(
                    file,
                    "this is a TorchScript archive (torch.jit.save), not a state dict: save the weights with"
                            + " torch.save(model.state_dict(), path) or convert them to safetensors");
        }
        ZipEntry pkl = zip.getEntry(top + "data.pkl");
        if (pkl == null) {
            throw bad(file, "no record '" + top + "data.pkl' in the archive, so this is no torch.save checkpoint");
        }
        ZipEntry byteorder = zip.getEntry(top + "byteorder");
        if (byteorder != null) {
            String order = new String(readSmall(zip, byteorder, 64, file), StandardCharsets.US_ASCII).trim();
            if (!order.equals("little")) {
                throw bad(
                        file,
                        "storages are stored '" + order + "'-endian; only little-endian checkpoints are"
                                + " supported: re-save on a little-endian machine or convert to safetensors");
            }
        }

        // 2. the pickle
        String where = "data.pkl of " + file;
        Object root = RestrictedUnpickler.load(readSmall(zip, pkl, MAX_PICKLE_BYTES, file), where);
        if (!(root instanceof PDict dict)) {
            throw bad(
                    file,
                    "data.pkl holds " + RestrictedUnpickler.describe(root)
                            + " at top level, expected a dict (state_dict) of tensors");
        }
        Object wrapped = dict.map.get("state_dict");
        if (wrapped instanceof PDict inner) {
            dict = inner;
        }

        // 3. tensors, checked against their storage records
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<Object, Object> e : dict.map.entrySet()) {
            if (e.getValue() instanceof TensorRef t) {
                String key = e.getKey() instanceof String s ? s : String.valueOf(e.getKey());
                tensors.put(key, validate(file, zip, top, key, t));
            }
        }
        return new TorchCheckpoint(file, zip, tensors);
    }

    private static Tensor validate(Path file, ZipFile zip, String top, String key, TensorRef t) {
        StorageRef s = t.storage();
        TensorInfo info = new TensorInfo(key, s.dtype(), t.size());
        String name = top + "data/" + s.key();
        ZipEntry record = zip.getEntry(name);
        if (record == null) {
            throw bad(file, "tensor '" + key + "' refers to storage record '" + name + "', which is missing");
        }
        long storageBytes = Math.multiplyExact(s.numel(), (long) s.dtype().byteSize());
        if (record.getSize() >= 0 && record.getSize() < storageBytes) {
            throw bad(
                    file,
                    "storage record '" + name + "' has " + record.getSize() + " bytes but its pickle declares "
                            + s.numel() + " " + s.dtype() + " elements (" + storageBytes
                            + " bytes): the file is truncated");
        }
        if (t.offset() < 0) {
            throw bad(file, "tensor '" + key + "' has negative storage offset " + t.offset());
        }
        for (long st : t.stride()) {
            if (st < 0) {
                throw bad(file, "tensor '" + key + "' has negative stride " + Arrays.toString(t.stride()));
            }
        }
        if (info.numel() > 0) {
            long last = lastIndex(t.offset(), t.size(), t.stride());
            if (last >= s.numel()) {
                throw bad(
                        file,
                        "tensor '" + key + "' (offset " + t.offset() + ", size " + Arrays.toString(t.size())
                                + ", stride " + Arrays.toString(t.stride()) + ") reaches element " + last
                                + " of storage '"
                                + s.key() + "', which has " + s.numel() + " elements");
            }
        }
        return new Tensor(info, record, t.offset(), t.stride().clone());
    }

    /** Storage index of a view's last element: offset + sum((size_i - 1) * stride_i). */
    private static long lastIndex(long offset, long[] size, long[] stride) {
        long last = offset;
        for (int i = 0; i < size.length; i++) {
            last = Math.addExact(last, Math.multiplyExact(size[i] - 1, stride[i]));
        }
        return last;
    }

    private static byte[] readSmall(ZipFile zip, ZipEntry entry, long cap, Path file) throws IOException {
        if (entry.getSize() > cap) {
            throw bad(
                    file, "record '" + entry.getName() + "' has " + entry.getSize() + " bytes, over the cap of " + cap);
        }
        try (InputStream in = zip.getInputStream(entry)) {
            byte[] b = in.readNBytes((int) cap + 1);
            if (b.length > cap) {
                throw bad(file, "record '" + entry.getName() + "' is over the cap of " + cap + " bytes");
            }
            return b;
        }
    }

    private static IllegalArgumentException bad(Path file, String what) {
        return new IllegalArgumentException("invalid torch checkpoint " + file + ": " + what);
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public String format() {
        return "torch-zip";
    }

    @Override
    public List<String> keys() {
        return keys;
    }

    @Override
    public boolean contains(String key) {
        return tensors.containsKey(key);
    }

    @Override
    public TensorInfo info(String key) {
        return tensor(key).info();
    }

    @Override
    public NDArray load(String key, NDManager manager, DataType target) {
        Tensor t = tensor(key);
        return TensorBytes.create(t.info(), manager, target, path.toString(), view -> fill(t, view));
    }

    @Override
    public float[] loadFloats(String key) {
        Tensor t = tensor(key);
        int n = TensorBytes.floatCount(t.info(), path.toString());
        ByteBuffer b = ByteBuffer.allocate((int) TensorBytes.checkSize(t.info(), path.toString()))
                .order(ByteOrder.LITTLE_ENDIAN);
        fill(t, b);
        return TensorBytes.toFloats(b.flip(), t.info().dtype(), n);
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    @Override
    public void close() {
        closed = true;
        try {
            zip.close();
        } catch (IOException e) {
            throw new UncheckedIOException("closing " + path, e);
        }
    }

    private Tensor tensor(String key) {
        Tensor t = tensors.get(key);
        if (t == null) {
            throw new IllegalArgumentException(
                    "no tensor '" + key + "' in " + path + " (" + tensors.size() + " tensors; list them with keys())");
        }
        if (closed) {
            throw new IllegalStateException("torch checkpoint " + path + " is closed");
        }
        return t;
    }

    /** Writes the tensor's elements in row-major order into {@code out}. */
    private void fill(Tensor t, ByteBuffer out) {
        TensorInfo info = t.info();
        int es = info.dtype().byteSize();
        long numel = info.numel();
        if (numel == 0) {
            return;
        }
        long[] size = info.shape();
        long begin = t.offset() * es;
        if (isContiguous(size, t.stride())) {
            readRange(t.record(), begin, numel * es, out);
            return;
        }
        // Strided view: read the span it touches, then gather row by row.
        long spanBytes = (lastIndex(t.offset(), size, t.stride()) - t.offset() + 1) * es;
        if (spanBytes > TensorBytes.MAX_TENSOR_BYTES) {
            throw new IllegalArgumentException("tensor '" + info.key() + "' in " + path + " is a strided view over "
                    + spanBytes + " bytes of storage, over 2 GiB: re-save it contiguous (tensor.contiguous())");
        }
        ByteBuffer span = ByteBuffer.allocate((int) spanBytes).order(ByteOrder.LITTLE_ENDIAN);
        readRange(t.record(), begin, spanBytes, span);
        gather(span.array(), size, t.stride(), es, out);
    }

    static boolean isContiguous(long[] size, long[] stride) {
        long expected = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expected) {
                return false;
            }
            expected *= size[i];
        }
        return true;
    }

    /** Copies a strided view (element strides, base at index 0 of {@code span}) row-major into {@code out}. */
    static void gather(byte[] span, long[] size, long[] stride, int es, ByteBuffer out) {
        int nd = size.length;
        long inner = size[nd - 1];
        long innerStride = stride[nd - 1];
        long[] idx = new long[nd - 1];
        long rows = 1;
        for (int i = 0; i < nd - 1; i++) {
            rows *= size[i];
        }
        for (long r = 0; r < rows; r++) {
            long base = 0;
            for (int i = 0; i < nd - 1; i++) {
                base += idx[i] * stride[i];
            }
            if (innerStride == 1) {
                out.put(span, (int) (base * es), (int) (inner * es));
            } else {
                for (long j = 0; j < inner; j++) {
                    out.put(span, (int) ((base + j * innerStride) * es), es);
                }
            }
            for (int i = nd - 2; i >= 0; i--) {
                if (++idx[i] < size[i]) {
                    break;
                }
                idx[i] = 0;
            }
        }
    }

    private void readRange(ZipEntry record, long begin, long length, ByteBuffer out) {
        try (InputStream in = zip.getInputStream(record)) {
            in.skipNBytes(begin);
            byte[] chunk = new byte[(int) Math.min(length, 1 << 20)];
            long left = length;
            while (left > 0) {
                int n = in.read(chunk, 0, (int) Math.min(chunk.length, left));
                if (n < 0) {
                    throw new IllegalArgumentException("storage record '" + record.getName() + "' of " + path
                            + " ends early: the file is truncated, re-download it");
                }
                out.put(chunk, 0, n);
                left -= n;
            }
        } catch (EOFException e) {
            throw new IllegalArgumentException("storage record '" + record.getName() + "' of " + path
                    + " ends early: the file is truncated, re-download it");
        } catch (IOException e) {
            throw new UncheckedIOException("reading record '" + record.getName() + "' of " + path, e);
        }
    }
}
