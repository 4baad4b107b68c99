package io.animatediff.engine.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes safetensors files like the reference serializer: metadata first in the header, the header
 * padded with spaces to a multiple of 8 bytes, tensors stored contiguously in the map's iteration
 * order. The file appears atomically: it is written next to its target and moved into place.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BF16_CHUNK = 1 << 20;

    private SafetensorsWriter() {}

    /**
     * Writes {@code tensors} (iteration order kept, use a LinkedHashMap) with {@code metadata}
     * (may be empty) to {@code file}, each array in its own dtype (F32, F16, F64, integers, bool).
     */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, metadata, null);
    }

    /**
     * As {@link #write(Path, Map, Map)}, storing every floating array as {@code floatDtype} (F32,
     * F16, BF16 or F64; null keeps each array's own). BF16 is produced here (round to nearest even,
     * like torch's cast), since DJL's PyTorch engine has no bfloat16 arrays.
     */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata, Dtype floatDtype)
            throws IOException {
        if (floatDtype != null && !floatDtype.isFloating()) {
            throw new IllegalArgumentException("floatDtype must be F32, F16, BF16 or F64, got " + floatDtype);
        }
        // 1. header
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        List<NDArray> arrays = new ArrayList<>(tensors.size());
        List<Dtype> stored = new ArrayList<>(tensors.size());
        long offset = 0;
        for (Map.Entry<String, NDArray> t : tensors.entrySet()) {
            String key = t.getKey();
            if (key.equals("__metadata__")) {
                throw new IllegalArgumentException(
                        "tensor key '__metadata__' is reserved by the safetensors format: rename the tensor");
            }
            NDArray a = t.getValue();
            Dtype dtype;
            try {
                dtype = Dtype.fromDataType(a.getDataType());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "cannot write tensor '" + key + "' to " + file + ": " + e.getMessage());
            }
            if (floatDtype != null && dtype.isFloating()) {
                dtype = floatDtype;
            }
            long[] shape = a.getShape().getShape();
            long bytes = new TensorInfo(key, dtype, shape).byteSize();
            ObjectNode entry = header.putObject(key);
            entry.put("dtype", dtype.safetensorsName());
            ArrayNode s = entry.putArray("shape");
            for (long d : shape) {
                s.add(d);
            }
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
            arrays.add(a);
            stored.add(dtype);
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();

        // 2. data into a temporary file next to the target, then an atomic move
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            try (FileChannel out =
                    FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(out, head);
                for (int i = 0; i < arrays.size(); i++) {
                    writeData(out, arrays.get(i), stored.get(i));
                }
                out.force(true);
            }
            move(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void writeData(FileChannel out, NDArray a, Dtype dtype) throws IOException {
        if (a.size() == 0) {
            return;
        }
        if (dtype == Dtype.BF16) {
            NDArray f32 = a.getDataType() == DataType.FLOAT32 ? a : a.toType(DataType.FLOAT32, false);
            try {
                writeBf16(
                        out,
                        f32.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer());
            } finally {
                if (f32 != a) {
                    f32.close();
                }
            }
            return;
        }
        NDArray source = a.getDataType() == dtype.toDataType() ? a : a.toType(dtype.toDataType(), false);
        try {
            ByteBuffer data = source.toByteBuffer(true);
            long expected = source.size() * dtype.byteSize();
            if (data.remaining() != expected) {
                throw new IllegalStateException(
                        "array gave " + data.remaining() + " bytes where " + expected + " were expected");
            }
            writeFully(out, data);
        } finally {
            if (source != a) {
                source.close();
            }
        }
    }

    private static void writeBf16(FileChannel out, FloatBuffer values) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect(2 * BF16_CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        while (values.hasRemaining()) {
            chunk.clear();
            int n = Math.min(BF16_CHUNK, values.remaining());
            for (int i = 0; i < n; i++) {
                chunk.putShort(TensorBytes.toBf16(values.get()));
            }
            chunk.flip();
            writeFully(out, chunk);
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            out.write(buf);
        }
    }

    private static void move(Path tmp, Path file) throws IOException {
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
