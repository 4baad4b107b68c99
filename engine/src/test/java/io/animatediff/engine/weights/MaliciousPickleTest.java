package io.animatediff.engine.weights;

import static io.animatediff.engine.weights.TorchZipWriter.Tensor.contiguous;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Pickles that would run code in Python's unpickler are refused at the global they name, before
 * anything could call it; the payload (creating a marker file) never happens.
 */
class MaliciousPickleTest {
    @TempDir
    Path dir;

    private Path marker() {
        return dir.resolve("pwned");
    }

    /** The argument tuple that makes each callable create the marker file in Python. */
    private PickleBytes payloadArgs(PickleBytes p, String module, String name) {
        String path = marker().toString();
        switch (module + "." + name) {
            case "builtins.eval", "__builtin__.eval" ->
                p.str("open('" + path + "', 'w')").op(0x85);
            case "builtins.exec" -> p.str("open('" + path + "', 'w').close()").op(0x85);
            case "subprocess.Popen", "subprocess.check_output" ->
                p.op(']').mark().str("touch").str(path).op('e').op(0x85);
            default -> p.str("touch " + path).op(0x85);
        }
        return p;
    }

    private Path archive(byte[] pkl) throws IOException {
        Path file = dir.resolve("evil.ckpt");
        TorchZipWriter.writeArchive(file, "archive", pkl, List.of());
        return file;
    }

    private void assertRefused(Path file, String qualified) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(file));
        assertEquals(
                "refusing global '" + qualified + "' in data.pkl of " + file
                        + ": only tensors and dicts can be loaded; convert the checkpoint to safetensors",
                e.getMessage());
        assertFalse(Files.exists(marker()), "the payload ran");
    }

    @ParameterizedTest
    @CsvSource({
        "os, system",
        "posix, system",
        "nt, system",
        "builtins, eval",
        "builtins, exec",
        "__builtin__, eval",
        "subprocess, Popen",
        "subprocess, check_output",
        "torch.storage, _load_from_bytes",
        "numpy.core.multiarray, _reconstruct",
        "torch, load",
        "collections, defaultdict",
    })
    void globalOpcodeIsRefused(String module, String name) throws IOException {
        PickleBytes p = new PickleBytes().proto(2).global(module, name).put(0);
        byte[] pkl = payloadArgs(p, module, name).op('R').stop().bytes();
        assertRefused(archive(pkl), module + "." + name);
    }

    @ParameterizedTest
    @CsvSource({"os, system", "builtins, exec", "subprocess, Popen"})
    void stackGlobalIsRefused(String module, String name) throws IOException {
        PickleBytes p = new PickleBytes().proto(4).op(0x95).le(0, 8);
        p.str(module, true).op(0x94).str(name, true).op(0x94).op(0x93).op(0x94);
        byte[] pkl = payloadArgs(p, module, name).op('R').stop().bytes();
        assertRefused(archive(pkl), module + "." + name);
    }

    @Test
    void payloadHiddenAfterARealTensorIsRefused() throws IOException {
        // a genuine state dict whose last entry smuggles os.system
        Path good = dir.resolve("good.ckpt");
        TorchZipWriter.save(good, "archive", Map.of("w", contiguous(TorchZipWriter.f32("0", 1, 2), 0, 2)));
        byte[] pkl;
        try (ZipFile zip = new ZipFile(good.toFile())) {
            pkl = zip.getInputStream(zip.getEntry("archive/data.pkl")).readAllBytes();
        }
        // drop STOP, then: dict on stack; add key -> os.system("touch marker"); SETITEM; STOP
        PickleBytes p = new PickleBytes().raw(java.util.Arrays.copyOf(pkl, pkl.length - 1));
        p.str("evil").global("os", "system");
        byte[] evil = payloadArgs(p, "os", "system").op('R').op('s').stop().bytes();
        Path file = dir.resolve("evil.ckpt");
        TorchZipWriter.writeArchive(file, "archive", evil, List.of(TorchZipWriter.f32("0", 1, 2)));
        assertRefused(file, "os.system");
    }

    @Test
    void storageTypeSlotCannotSmuggleAGlobal() throws IOException {
        PickleBytes p = new PickleBytes().proto(2).op('}').mark().str("w");
        p.global("torch._utils", "_rebuild_tensor_v2").mark().mark().str("storage");
        p.global("posix", "system").str("0").str("cpu").integer(1).op('t').op('Q');
        byte[] pkl = p.stop().bytes();
        assertRefused(archive(pkl), "posix.system");
    }

    @Test
    void codeExecutingOpcodesAreRefused() throws IOException {
        // INST (protocol 0 'i'), OBJ ('o'), EXT1 (0x82), NEWOBJ_EX (0x92), PERSID text ('P')
        int[] ops = {'i', 'o', 0x82, 0x92, 'P'};
        for (int op : ops) {
            byte[] pkl = new PickleBytes()
                    .proto(2)
                    .mark()
                    .op(op)
                    .raw("os\nsystem\n".getBytes())
                    .stop()
                    .bytes();
            Path file = archive(pkl);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(file));
            assertTrue(e.getMessage().contains(String.format("opcode 0x%02x", op)), e.getMessage());
            assertTrue(e.getMessage().contains("data.pkl of " + file), e.getMessage());
        }
        assertFalse(Files.exists(marker()));
    }

    @Test
    void allowedCallablesOnlyTakeTheirOwnArguments() throws IOException {
        // _rebuild_tensor_v2 handed a string instead of a storage
        PickleBytes p = new PickleBytes().proto(2).global("torch._utils", "_rebuild_tensor_v2");
        p.mark()
                .str("x")
                .integer(0)
                .op(')')
                .op(')')
                .op(0x89)
                .op('N')
                .op('t')
                .op('R')
                .stop();
        Path file = archive(p.bytes());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(file));
        assertTrue(e.getMessage().contains("expects a storage first, got 'x'"), e.getMessage());
        // a storage class is a dtype marker, never callable
        PickleBytes q = new PickleBytes()
                .proto(2)
                .global("torch", "FloatStorage")
                .op(')')
                .op('R')
                .stop();
        Path file2 = archive(q.bytes());
        e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(file2));
        assertTrue(e.getMessage().contains("torch.FloatStorage, which is not callable"), e.getMessage());
    }

    @Test
    void malformedPicklesFailCleanly() throws IOException {
        byte[][] cases = {
            new PickleBytes().proto(2).op('}').bytes(), // no STOP
            new PickleBytes().proto(2).op('s').stop().bytes(), // SETITEM on an empty stack
            new PickleBytes().proto(2).op('X').le(1_000_000, 4).stop().bytes(), // string past the end
            new PickleBytes().proto(2).get(7).stop().bytes(), // memo never written
            new PickleBytes().proto(2).op('e').stop().bytes(), // APPENDS without MARK
            new PickleBytes().proto(9).stop().bytes(), // unknown protocol
        };
        for (byte[] pkl : cases) {
            Path file = archive(pkl);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorSources.open(file));
            assertTrue(e.getMessage().startsWith("unsupported or corrupt pickle: data.pkl of " + file), e.getMessage());
        }
    }
}
