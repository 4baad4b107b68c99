package io.animatediff.engine.ops;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.zip.CRC32;

/**
 * Writes a TorchScript archive (what torch.jit.save produces, ported from PyTorch's
 * {@code caffe2::serialize::PyTorchStreamWriter} and {@code torch.jit.ScriptModule.save}) for a
 * module class without parameters, from the class's methods in TorchScript's serialized Python
 * subset. No Python is involved: libtorch compiles the source when the archive is loaded.
 *
 * <p>Layout: a zip of stored (uncompressed) records, each record's data 64-byte aligned, all under
 * one top folder: {@code version} (the file-format version, {@value #FILE_FORMAT_VERSION}, the
 * lowest torch.jit.save writes), {@code data.pkl} (protocol-2 pickle of the module object: {@code
 * __torch__.<Class>} built with {@code {"training": False}}), {@code constants.pkl} (an empty tuple)
 * and {@code code/__torch__.py} (the class).
 */
public final class TorchScriptArchive {
    /** File-format version libtorch accepts for TorchScript archives without versioned operators. */
    public static final int FILE_FORMAT_VERSION = 3;

    private static final int ALIGNMENT = 64;
    private static final int LOCAL_HEADER_SIZE = 30;
    private static final int PADDING_HEADER_SIZE = 4;
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private TorchScriptArchive() {}

    /**
     * Builds the archive bytes.
     *
     * @param archiveName the top folder of the zip (any identifier; libtorch reads it from the first
     *     record)
     * @param className the module class, declared as {@code __torch__.<className>}
     * @param methods the {@code def} blocks of the class at column 0, in serialized TorchScript: every
     *     argument annotated, {@code self: __torch__.<className>} first, the return type declared
     */
    public static byte[] build(String archiveName, String className, String methods) {
        requireIdentifier("archive name", archiveName);
        requireIdentifier("class name", className);
        if (!methods.contains("def ")) {
            throw new IllegalArgumentException("TorchScript class " + className
                    + " has no method: pass at least one 'def' block in serialized TorchScript");
        }
        Map<String, byte[]> records = new LinkedHashMap<>();
        records.put("version", (FILE_FORMAT_VERSION + "\n").getBytes(StandardCharsets.US_ASCII));
        records.put(
                "data.pkl",
                new PickleWriter()
                        .global("__torch__", className)
                        .newObjectWithoutArguments()
                        .booleanDict(Map.of("training", false))
                        .build()
                        .finish());
        records.put("constants.pkl", new PickleWriter().emptyTuple().finish());
        records.put("code/__torch__.py", classSource(className, methods).getBytes(StandardCharsets.UTF_8));
        return zipStoredAligned(archiveName, records);
    }

    /** The {@code code/__torch__.py} text: the class header, then the methods indented by two. */
    static String classSource(String className, String methods) {
        StringBuilder source = new StringBuilder()
                .append("class ")
                .append(className)
                .append("(Module):\n")
                .append("  __parameters__ = []\n")
                .append("  __buffers__ = []\n")
                .append("  training : bool\n");
        for (String line : methods.strip().split("\n", -1)) {
            source.append(line.isBlank() ? "" : "  " + line.stripTrailing()).append('\n');
        }
        return source.toString();
    }

    private static byte[] zipStoredAligned(String top, Map<String, byte[]> records) {
        ByteArrayOutputStream zip = new ByteArrayOutputStream();
        List<CentralEntry> central = new ArrayList<>();
        records.forEach((name, data) -> {
            byte[] path = (top + "/" + name).getBytes(StandardCharsets.UTF_8);
            long offset = zip.size();
            int unpadded = (int) ((offset + LOCAL_HEADER_SIZE + path.length + PADDING_HEADER_SIZE) % ALIGNMENT);
            int padding = (ALIGNMENT - unpadded) % ALIGNMENT;
            CRC32 crc = new CRC32();
            crc.update(data);
            CentralEntry entry = new CentralEntry(path, (int) crc.getValue(), data.length, offset);
            central.add(entry);
            int32(zip, 0x04034b50);
            int16(zip, 20); // version needed: 2.0
            int16(zip, 0); // flags
            int16(zip, 0); // method: stored
            int16(zip, 0); // time
            int16(zip, 0x21); // date: 1980-01-01
            int32(zip, entry.crc);
            int32(zip, data.length);
            int32(zip, data.length);
            int16(zip, path.length);
            int16(zip, PADDING_HEADER_SIZE + padding);
            zip.write(path, 0, path.length);
            int16(zip, 0x4246); // "FB": PyTorch's padding field
            int16(zip, padding);
            for (int i = 0; i < padding; i++) {
                zip.write('Z');
            }
            zip.write(data, 0, data.length);
        });
        long directoryOffset = zip.size();
        for (CentralEntry entry : central) {
            int32(zip, 0x02014b50);
            int16(zip, 20); // version made by
            int16(zip, 20); // version needed
            int16(zip, 0);
            int16(zip, 0);
            int16(zip, 0);
            int16(zip, 0x21);
            int32(zip, entry.crc);
            int32(zip, entry.size);
            int32(zip, entry.size);
            int16(zip, entry.path.length);
            int16(zip, 0); // extra
            int16(zip, 0); // comment
            int16(zip, 0); // disk
            int16(zip, 0); // internal attributes
            int32(zip, 0); // external attributes
            int32(zip, (int) entry.offset);
            zip.write(entry.path, 0, entry.path.length);
        }
        long directorySize = zip.size() - directoryOffset;
        int32(zip, 0x06054b50);
        int16(zip, 0);
        int16(zip, 0);
        int16(zip, central.size());
        int16(zip, central.size());
        int32(zip, (int) directorySize);
        int32(zip, (int) directoryOffset);
        int16(zip, 0);
        return zip.toByteArray();
    }

    private record CentralEntry(byte[] path, int crc, int size, long offset) {}

    private static void requireIdentifier(String what, String value) {
        if (value == null || !IDENTIFIER.matcher(value).matches()) {
            throw new IllegalArgumentException(
                    "TorchScript " + what + " '" + value + "' is not an identifier: use letters, digits and '_'");
        }
    }

    private static void int16(ByteArrayOutputStream out, int v) {
        out.write(v & 0xff);
        out.write((v >>> 8) & 0xff);
    }

    private static void int32(ByteArrayOutputStream out, int v) {
        int16(out, v);
        int16(out, v >>> 16);
    }
}
