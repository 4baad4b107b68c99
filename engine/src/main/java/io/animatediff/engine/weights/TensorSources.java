package io.animatediff.engine.weights;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a tensor file with the reader its content calls for, whatever its extension. */
public final class TensorSources {
    private TensorSources() {}

    /**
     * Opens {@code file}: a zip (magic "PK") as a torch checkpoint, otherwise as safetensors (8-byte
     * header length then '{'). Legacy non-zip torch pickles and unknown content get a clear error.
     */
    public static TensorSource open(Path file) throws IOException {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(16);
        }
        if (head.length >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 || head[2] == 5)) {
            return TorchCheckpoint.open(file);
        }
        if (head.length >= 2 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5) {
            throw new IllegalArgumentException(file + " is a legacy (non-zip) torch pickle, which is not supported:"
                    + " re-save it with torch>=1.6 (torch.save(torch.load(f), f2)) or convert it to safetensors");
        }
        if (head.length >= 8 && new String(head, 0, 8, java.nio.charset.StandardCharsets.US_ASCII).equals("PYTORCH1")) {
            throw new IllegalArgumentException(file + " is a preview-release torch archive, which is not supported:"
                    + " re-save it with torch>=1.6 or convert it to safetensors");
        }
        if (head.length >= 9 && head[8] == '{') {
            return SafetensorsFile.open(file);
        }
        if (head.length < 9) {
            throw new IllegalArgumentException(
                    file + " is truncated (" + head.length + " bytes): not a safetensors file or torch checkpoint");
        }
        long headerLen =
                ByteBuffer.wrap(head, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        throw new IllegalArgumentException(file + " is neither a safetensors file (8-byte header length then '{';"
                + " here header length " + Long.toUnsignedString(headerLen) + " and byte 8 is "
                + String.format("0x%02x", head[8] & 0xff) + ") nor a torch zip checkpoint (starts with PK):"
                + " re-download it or convert it to safetensors");
    }
}
