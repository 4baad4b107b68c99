package io.animatediff.engine.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;

class TorchScriptArchiveTest {
    private static final String METHODS = """
            def forward(self: __torch__.M,
                x: Tensor) -> Tensor:
              return x
            """;

    @Test
    void recordsAreStoredUnderOneFolderInTorchSaveOrder() throws IOException {
        byte[] zip = TorchScriptArchive.build("arch", "M", METHODS);
        List<String> names = new ArrayList<>();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
            for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                names.add(e.getName());
                assertEquals(ZipEntry.STORED, e.getMethod(), e.getName());
                byte[] data = in.readAllBytes();
                if (e.getName().equals("arch/version")) {
                    assertEquals("3\n", new String(data, StandardCharsets.US_ASCII));
                }
                if (e.getName().equals("arch/code/__torch__.py")) {
                    String code = new String(data, StandardCharsets.UTF_8);
                    assertTrue(code.startsWith("class M(Module):\n  __parameters__ = []\n"), code);
                    assertTrue(
                            code.contains("\n  def forward(self: __torch__.M,\n      x: Tensor) -> Tensor:\n"), code);
                }
            }
        }
        assertEquals(List.of("arch/version", "arch/data.pkl", "arch/constants.pkl", "arch/code/__torch__.py"), names);
    }

    @Test
    void everyRecordStartsOn64ByteBoundary() {
        byte[] zip = TorchScriptArchive.build("arch", "M", METHODS);
        ByteBuffer b = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
        int offset = 0;
        int records = 0;
        while (b.getInt(offset) == 0x04034b50) {
            int size = b.getInt(offset + 18);
            int nameLength = b.getShort(offset + 26) & 0xffff;
            int extraLength = b.getShort(offset + 28) & 0xffff;
            int data = offset + 30 + nameLength + extraLength;
            assertEquals(0, data % 64, "record " + records + " data offset " + data);
            offset = data + size;
            records++;
        }
        assertEquals(4, records);
        assertEquals(0x02014b50, b.getInt(offset), "central directory follows the records");
    }

    @Test
    void modulePickleIsTheClassBuiltWithTrainingFalse() {
        byte[] pickle = new PickleWriter()
                .global("__torch__", "M")
                .newObjectWithoutArguments()
                .booleanDict(java.util.Map.of("training", false))
                .build()
                .finish();
        byte[] expected = concat(
                new byte[] {(byte) 0x80, 2, 'c'},
                "__torch__\nM\n".getBytes(StandardCharsets.US_ASCII),
                new byte[] {')', (byte) 0x81, '}', '(', 'X', 8, 0, 0, 0},
                "training".getBytes(StandardCharsets.US_ASCII),
                new byte[] {(byte) 0x89, 'u', 'b', '.'});
        assertArrayEquals(expected, pickle);
        assertArrayEquals(
                new byte[] {(byte) 0x80, 2, ')', '.'},
                new PickleWriter().emptyTuple().finish());
    }

    @Test
    void refusesNamesThatAreNotIdentifiers() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> TorchScriptArchive.build("a/b", "M", METHODS));
        assertTrue(e.getMessage().contains("a/b"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TorchScriptArchive.build("a", "1M", METHODS));
        assertThrows(IllegalArgumentException.class, () -> TorchScriptArchive.build("a", "M", "pass"));
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
