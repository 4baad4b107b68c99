package io.animatediff.engine.weights;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Test scope: emits pickle opcodes one by one, for hand-written (also malicious) pickles. */
final class PickleBytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    PickleBytes proto(int v) {
        return op(0x80).op(v);
    }

    PickleBytes op(int code) {
        out.write(code);
        return this;
    }

    PickleBytes raw(byte[] b) {
        out.writeBytes(b);
        return this;
    }

    PickleBytes le(long v, int n) {
        for (int i = 0; i < n; i++) {
            out.write((int) (v >>> (8 * i)) & 0xff);
        }
        return this;
    }

    /** GLOBAL 'module\nname\n'. */
    PickleBytes global(String module, String name) {
        return op('c').raw((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** BINUNICODE, or SHORT_BINUNICODE when {@code shortForm}. */
    PickleBytes str(String s, boolean shortForm) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (shortForm) {
            return op(0x8c).op(b.length).raw(b);
        }
        return op('X').le(b.length, 4).raw(b);
    }

    PickleBytes str(String s) {
        return str(s, false);
    }

    /** The smallest int opcode Python would use. */
    PickleBytes integer(long v) {
        if (v >= 0 && v < 256) {
            return op('K').op((int) v);
        }
        if (v >= 0 && v < 65536) {
            return op('M').le(v, 2);
        }
        if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            return op('J').le(v, 4);
        }
        return op(0x8a).op(8).le(v, 8);
    }

    PickleBytes binfloat(double d) {
        return raw(new byte[] {'G'})
                .raw(ByteBuffer.allocate(8)
                        .order(ByteOrder.BIG_ENDIAN)
                        .putDouble(d)
                        .array());
    }

    /** BINPUT, or LONG_BINPUT past 255. */
    PickleBytes put(int index) {
        return index < 256 ? op('q').op(index) : op('r').le(index, 4);
    }

    /** BINGET, or LONG_BINGET past 255. */
    PickleBytes get(int index) {
        return index < 256 ? op('h').op(index) : op('j').le(index, 4);
    }

    PickleBytes mark() {
        return op('(');
    }

    PickleBytes stop() {
        return op('.');
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}
