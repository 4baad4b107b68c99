package io.animatediff.engine.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;
import java.util.function.Consumer;

/** Turns raw little-endian tensor bytes into NDArrays and float arrays; shared by both readers. */
final class TensorBytes {
    private TensorBytes() {}

    /** Tensors above this many bytes cannot be handed to DJL in one buffer. */
    static final long MAX_TENSOR_BYTES = Integer.MAX_VALUE;

    /**
     * Creates an array of {@code info}'s shape owned by {@code manager}, lets {@code fill} write the
     * tensor's raw little-endian bytes ({@code info.byteSize()} of them) straight into the array's
     * native memory, then converts it to {@code target}. BF16 tensors are widened to FLOAT32 here
     * first (exact), because DJL's PyTorch engine has no bfloat16 arrays.
     */
    static NDArray create(TensorInfo info, NDManager manager, DataType target, String file, Consumer<ByteBuffer> fill) {
        checkTarget(info, target, file, manager);
        checkNativeLittleEndian();
        long bytes = checkSize(info, file);
        Shape shape = new Shape(info.shape());
        if (bytes == 0) {
            return manager.create(shape, target);
        }
        NDArray raw;
        if (info.dtype() == Dtype.BF16) {
            ByteBuffer staging = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
            fill.accept(staging);
            staging.flip();
            raw = filled(manager.create(shape, DataType.FLOAT32), view -> widenBf16(staging, view));
        } else {
            raw = filled(manager.create(shape, info.dtype().toDataType()), fill);
        }
        if (target == raw.getDataType()) {
            return raw;
        }
        NDArray converted = raw.toType(target, false);
        raw.close();
        return converted;
    }

    /** Writes into the array's own memory (a direct view) or, if the engine gives a copy, through set(). */
    private static NDArray filled(NDArray array, Consumer<ByteBuffer> fill) {
        try {
            long bytes = array.size() * array.getDataType().getNumOfBytes();
            ByteBuffer view = array.toByteBuffer(true);
            if (view.isDirect() && view.capacity() == bytes) {
                view.order(ByteOrder.LITTLE_ENDIAN).clear();
                fill.accept(view);
            } else {
                ByteBuffer staging = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
                fill.accept(staging);
                staging.clear();
                array.set(staging);
            }
            return array;
        } catch (RuntimeException e) {
            array.close();
            throw e;
        }
    }

    /** bfloat16 -> float32 is exact: the 16 bits become the high half of the float. */
    static void widenBf16(ByteBuffer src, ByteBuffer dst) {
        ShortBuffer s = src.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        IntBuffer d = dst.order(ByteOrder.LITTLE_ENDIAN).asIntBuffer();
        int n = s.remaining();
        for (int i = 0; i < n; i++) {
            d.put(i, (s.get(i) & 0xffff) << 16);
        }
        dst.position(dst.position() + 4 * n);
    }

    /** float32 -> bfloat16 rounding to nearest even, NaN to 0x7fc0, exactly like torch's cast. */
    static short toBf16(float f) {
        if (Float.isNaN(f)) {
            return (short) 0x7fc0;
        }
        int bits = Float.floatToRawIntBits(f);
        int bias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + bias) >>> 16);
    }

    /**
     * Floating tensors convert to any floating target; any tensor loads as its own type. Types
     * DJL's PyTorch engine cannot hold (BFLOAT16, INT16: its native code aborts the JVM on them)
     * are refused as targets.
     */
    static void checkTarget(TensorInfo info, DataType target, String file, NDManager manager) {
        if ((target == DataType.BFLOAT16 || target == DataType.INT16)
                && "PyTorch".equals(manager.getEngine().getEngineName())) {
            throw new IllegalArgumentException("tensor '" + info.key() + "' in " + file + " cannot be loaded as "
                    + target.name() + ": DJL's PyTorch engine has no " + target.name() + " arrays"
                    + (info.dtype().isFloating() ? "; load it as FLOAT32 or FLOAT16" : "; read it with loadFloats"));
        }
        boolean floatTarget = target == DataType.FLOAT32
                || target == DataType.FLOAT16
                || target == DataType.BFLOAT16
                || target == DataType.FLOAT64;
        if (target == info.dtype().toDataType() || (info.dtype().isFloating() && floatTarget)) {
            return;
        }
        throw new IllegalArgumentException("tensor '" + info.key() + "' in " + file + " is " + info.dtype()
                + " and cannot be loaded as " + target.name() + ": floating tensors load as FLOAT32, FLOAT16 or"
                + " FLOAT64, other tensors only as their own type ("
                + info.dtype().toDataType().name() + ")");
    }

    static long checkSize(TensorInfo info, String file) {
        long bytes = info.byteSize();
        if (bytes > MAX_TENSOR_BYTES) {
            throw new IllegalArgumentException("tensor '" + info.key() + "' in " + file + " has " + bytes
                    + " bytes; tensors over 2 GiB cannot be loaded into one NDArray: split it before saving");
        }
        return bytes;
    }

    static void checkNativeLittleEndian() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new IllegalStateException(
                    "tensor files are little-endian and this machine is big-endian: loading is not supported here");
        }
    }

    /** Decodes {@code n} elements of {@code dtype} from a little-endian buffer into floats. */
    static float[] toFloats(ByteBuffer src, Dtype dtype, int n) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[n];
        switch (dtype) {
            case F32 -> b.asFloatBuffer().get(out);
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) b.getDouble(b.position() + 8 * i);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = halfToFloat(b.getShort(b.position() + 2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((b.getShort(b.position() + 2 * i) & 0xffff) << 16);
                }
            }
            case I64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getLong(b.position() + 8 * i);
                }
            }
            case I32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(b.position() + 4 * i);
                }
            }
            case I16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getShort(b.position() + 2 * i);
                }
            }
            case I8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(b.position() + i);
                }
            }
            case U8, BOOL -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(b.position() + i) & 0xff;
                }
            }
        }
        return out;
    }

    /** IEEE 754 binary16 bits to float, exact for every value incl. subnormals, inf and NaN. */
    static float halfToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            float v = mant * 0x1p-24f; // subnormal: mant * 2^-24
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** Number of elements as an int for {@code loadFloats}; larger tensors are refused. */
    static int floatCount(TensorInfo info, String file) {
        long n = info.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor '" + info.key() + "' in " + file + " has " + n
                    + " elements, too many for a float[]: use load(key, manager) instead");
        }
        return (int) n;
    }
}
