package io.animatediff.engine.ops;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The few opcodes of Python's pickle protocol 2 that a TorchScript archive's {@code data.pkl} and
 * {@code constants.pkl} need (ports the subset of CPython's {@code pickle._Pickler} that
 * torch.jit.save emits for a module without parameters).
 */
final class PickleWriter {
    private static final int PROTO = 0x80;
    private static final int STOP = '.';
    private static final int GLOBAL = 'c';
    private static final int EMPTY_TUPLE = ')';
    private static final int NEWOBJ = 0x81;
    private static final int EMPTY_DICT = '}';
    private static final int MARK = '(';
    private static final int SETITEMS = 'u';
    private static final int BUILD = 'b';
    private static final int BINUNICODE = 'X';
    private static final int NEWTRUE = 0x88;
    private static final int NEWFALSE = 0x89;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    PickleWriter() {
        out.write(PROTO);
        out.write(2);
    }

    /** Pushes the class {@code module.name} (GLOBAL). */
    PickleWriter global(String module, String name) {
        out.write(GLOBAL);
        ascii(module + "\n" + name + "\n");
        return this;
    }

    /** Pops a class and pushes {@code cls.__new__(cls)} (EMPTY_TUPLE, NEWOBJ). */
    PickleWriter newObjectWithoutArguments() {
        out.write(EMPTY_TUPLE);
        out.write(NEWOBJ);
        return this;
    }

    PickleWriter emptyTuple() {
        out.write(EMPTY_TUPLE);
        return this;
    }

    /** Pushes a dict of string keys to booleans (EMPTY_DICT, MARK, key/value pairs, SETITEMS). */
    PickleWriter booleanDict(java.util.Map<String, Boolean> entries) {
        out.write(EMPTY_DICT);
        if (entries.isEmpty()) {
            return this;
        }
        out.write(MARK);
        entries.forEach((key, value) -> {
            string(key);
            out.write(value ? NEWTRUE : NEWFALSE);
        });
        out.write(SETITEMS);
        return this;
    }

    /** Pops a state dict and applies it to the object below it (BUILD). */
    PickleWriter build() {
        out.write(BUILD);
        return this;
    }

    /** Ends the pickle (STOP) and returns its bytes. */
    byte[] finish() {
        out.write(STOP);
        return out.toByteArray();
    }

    private void string(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        out.write(BINUNICODE);
        int n = utf8.length;
        out.write(n & 0xff);
        out.write((n >>> 8) & 0xff);
        out.write((n >>> 16) & 0xff);
        out.write((n >>> 24) & 0xff);
        out.write(utf8, 0, n);
    }

    private void ascii(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.US_ASCII);
        out.write(bytes, 0, bytes.length);
    }
}
