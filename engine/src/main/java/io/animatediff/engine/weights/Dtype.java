package io.animatediff.engine.weights;

import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.stream.Collectors;

/** Element types a tensor file can hold, with their safetensors names and DJL counterparts. */
public enum Dtype {
    F64(8, "F64", DataType.FLOAT64),
    F32(4, "F32", DataType.FLOAT32),
    F16(2, "F16", DataType.FLOAT16),
    BF16(2, "BF16", DataType.BFLOAT16),
    I64(8, "I64", DataType.INT64),
    I32(4, "I32", DataType.INT32),
    I16(2, "I16", DataType.INT16),
    I8(1, "I8", DataType.INT8),
    U8(1, "U8", DataType.UINT8),
    BOOL(1, "BOOL", DataType.BOOLEAN);

    private final int byteSize;
    private final String safetensorsName;
    private final DataType djl;

    Dtype(int byteSize, String safetensorsName, DataType djl) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
        this.djl = djl;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The name the safetensors header uses ("F32", "BF16", ...). */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The DJL data type holding the same values. */
    public DataType toDataType() {
        return djl;
    }

    /** True for F64, F32, F16 and BF16. */
    public boolean isFloating() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /** Parses a safetensors dtype name; an unknown name is refused listing the supported ones. */
    public static Dtype fromSafetensors(String name) {
        for (Dtype d : values()) {
            if (d.safetensorsName.equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException(
                "unknown safetensors dtype '" + name + "': supported are " + supportedNames());
    }

    /** The Dtype for a DJL data type; types no tensor file here can hold are refused. */
    public static Dtype fromDataType(DataType type) {
        for (Dtype d : values()) {
            if (d.djl == type) {
                return d;
            }
        }
        throw new IllegalArgumentException(
                "DJL data type " + type + " cannot be stored in a tensor file: supported are "
                        + Arrays.stream(values()).map(d -> d.djl.toString()).collect(Collectors.joining(", ")));
    }

    static String supportedNames() {
        return Arrays.stream(values()).map(Dtype::safetensorsName).collect(Collectors.joining(", "));
    }
}
