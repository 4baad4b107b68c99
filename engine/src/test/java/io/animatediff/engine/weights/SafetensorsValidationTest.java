package io.animatediff.engine.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed safetensors files are refused at open with a message saying what and where. */
class SafetensorsValidationTest {
    @TempDir
    Path dir;

    private Path file(String json, int dataBytes) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, b.array());
        return f;
    }

    private String refused(Path f) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(f));
        assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
        return e.getMessage();
    }

    private static void assertMentions(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "'" + p + "' missing from: " + message);
        }
    }

    private static final String ONE = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    @Test
    void validFileOpens() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file(ONE, 8))) {
            assertEquals(1, f.keys().size());
        }
    }

    @Test
    void fileShorterThanTheLengthPrefix() throws IOException {
        Path f = dir.resolve("tiny.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        assertMentions(refused(f), "truncated", "3 bytes");
    }

    @Test
    void truncatedData() throws IOException {
        Path good = file(ONE, 8);
        byte[] all = Files.readAllBytes(good);
        Files.write(good, Arrays.copyOf(all, all.length - 3));
        assertMentions(refused(good), "'a'", "[0, 8]", "beyond", "5-byte data section");
    }

    @Test
    void headerLengthOverTheCap() throws IOException {
        Path f = dir.resolve("huge.safetensors");
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(SafetensorsFile.MAX_HEADER_BYTES + 1).put("{}      ".getBytes(StandardCharsets.US_ASCII));
        Files.write(f, b.array());
        assertMentions(refused(f), "header length 100000001", "cap of 100000000");
        // A negative (u64 > 2^63) length is reported as the unsigned number it is.
        b.clear();
        b.putLong(-1L);
        Files.write(f, b.array());
        assertMentions(refused(f), "18446744073709551615");
        // The cap is configurable.
        Path ok = file(ONE, 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(ok, 16));
        assertMentions(e.getMessage(), "cap of 16");
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        Path f = dir.resolve("short.safetensors");
        ByteBuffer b = ByteBuffer.allocate(8 + 10).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(500).put("{\"a\":1}   ".getBytes(StandardCharsets.US_ASCII));
        Files.write(f, b.array());
        assertMentions(refused(f), "truncated", "header length 500", "18-byte file");
    }

    @Test
    void badJson() throws IOException {
        assertMentions(refused(file("{\"a\": {\"dtype\": \"F32\", ", 0)), "not valid JSON");
        assertMentions(refused(file("[1, 2]", 0)), "does not start with '{'");
        assertMentions(refused(file("{\"a\": 5}", 0)), "'a'", "must be an object");
        String dup = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertMentions(refused(file(dup, 8)), "not valid JSON", "Duplicate field 'a'");
        assertMentions(refused(file("{\"__metadata__\":{\"n\":1}}", 0)), "__metadata__", "'n'", "string");
    }

    @Test
    void offsetsBeyondData() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
        assertMentions(refused(file(json, 12)), "'a'", "[8, 16]", "beyond the 12-byte data section");
    }

    @Test
    void overlappingRanges() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        assertMentions(refused(file(json, 12)), "'a' [0, 8)", "'b' [4, 12)", "overlap");
    }

    @Test
    void gapsAndUnsortedOffsetsAreFine() throws IOException {
        String json = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
                + "\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
        try (SafetensorsFile f = SafetensorsFile.open(file(json, 20))) {
            assertEquals(java.util.List.of("b", "a"), f.keys());
        }
    }

    @Test
    void byteLengthMustMatchDtypeTimesShape() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}";
        assertMentions(refused(file(json, 8)), "'a'", "F16 [2, 3] = 12 bytes", "span 8 bytes");
    }

    @Test
    void unknownDtype() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        assertMentions(refused(file(json, 2)), "'a'", "unknown safetensors dtype 'F8_E5M2'", "BF16");
    }

    @Test
    void malformedShapesAndOffsets() throws IOException {
        assertMentions(
                refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)), "shape [-1]");
        assertMentions(
                refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4)),
                "end before they begin");
        assertMentions(refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4)), "data_offsets");
        assertMentions(
                refused(file(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", 4)),
                "overflows");
    }

    @Test
    void detectionRefusesUnknownContent() throws IOException {
        Path f = dir.resolve("random.bin");
        Files.write(f, "hello world, not tensors".getBytes(StandardCharsets.US_ASCII));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(f));
        assertMentions(e.getMessage(), f.toString(), "neither a safetensors file", "torch zip");
    }
}
