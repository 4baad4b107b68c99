package io.animatediff.engine.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pickle VM restricted to what {@code torch.save} emits for a state dict (protocols 2 to 5);
 * opcode semantics as in CPython's {@code pickle._Unpickler}, the allow-list idea as in torch's
 * {@code torch/_weights_only_unpickler.py}, but narrower. It
 * builds plain values (str, int, float, bool, None, bytes, tuple, list, dict) and knows a fixed set
 * of globals as data, never as code: {@code collections.OrderedDict}, the torch tensor/parameter
 * rebuild functions and the typed storage classes. Any other global is refused where it is named,
 * before anything could call it; nothing is ever looked up by name, reflected on or executed.
 */
final class RestrictedUnpickler {

    /** A Python tuple. */
    record PTuple(List<Object> items) {
        PTuple {
            items = List.copyOf(items);
        }
    }

    /** A Python list. */
    static final class PList {
        final List<Object> items = new ArrayList<>();
    }

    /** A Python dict or OrderedDict; insertion order kept. */
    static final class PDict {
        final Map<Object, Object> map = new LinkedHashMap<>();
    }

    /** Python None (collections here hold no Java nulls). */
    enum None {
        NONE
    }

    /** One storage record of the zip: {@code data/<key>} holding {@code numel} elements of {@code dtype}. */
    record StorageRef(String key, Dtype dtype, String location, long numel) {}

    /** A tensor view of a storage, as {@code torch._utils._rebuild_tensor_v2} describes it (elements). */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    /** The globals a checkpoint may name. */
    sealed interface Global permits Callable, StorageType {}

    /** Functions and classes the VM emulates itself. */
    enum Callable implements Global {
        ORDERED_DICT("collections.OrderedDict"),
        REBUILD_TENSOR_V2("torch._utils._rebuild_tensor_v2"),
        REBUILD_PARAMETER("torch._utils._rebuild_parameter"),
        REBUILD_PARAMETER_WITH_STATE("torch._utils._rebuild_parameter_with_state");

        final String qualifiedName;

        Callable(String qualifiedName) {
            this.qualifiedName = qualifiedName;
        }
    }

    /** A legacy typed storage class such as {@code torch.FloatStorage}: only a dtype marker. */
    record StorageType(String qualifiedName, Dtype dtype) implements Global {}

    private static final Map<String, Global> ALLOWED = allowed();

    private static Map<String, Global> allowed() {
        Map<String, Global> m = new HashMap<>();
        for (Callable c : Callable.values()) {
            m.put(c.qualifiedName, c);
        }
        Object[][] storages = {
            {"DoubleStorage", Dtype.F64}, {"FloatStorage", Dtype.F32}, {"HalfStorage", Dtype.F16},
            {"BFloat16Storage", Dtype.BF16}, {"LongStorage", Dtype.I64}, {"IntStorage", Dtype.I32},
            {"ShortStorage", Dtype.I16}, {"CharStorage", Dtype.I8}, {"ByteStorage", Dtype.U8},
            {"BoolStorage", Dtype.BOOL}
        };
        for (Object[] s : storages) {
            String name = "torch." + s[0];
            m.put(name, new StorageType(name, (Dtype) s[1]));
        }
        return Map.copyOf(m);
    }

    private static final int MAX_GLOBAL_LINE = 256;

    private final byte[] data;
    private final String where;
    private final ByteBuffer in;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private RestrictedUnpickler(byte[] data, String where) {
        this.data = data;
        this.where = where;
        this.in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Runs the pickle in {@code data} and returns its result. {@code where} names the pickle in
     * errors, e.g. "data.pkl of /models/mm.ckpt".
     */
    static Object load(byte[] data, String where) {
        return new RestrictedUnpickler(data, where).run();
    }

    private Object run() {
        while (true) {
            if (!in.hasRemaining()) {
                throw malformed("ends without a STOP opcode (file truncated?)");
            }
            int at = in.position();
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> { // PROTO
                    int version = u8();
                    if (version < 2 || version > 5) {
                        throw malformed("uses pickle protocol " + version + ", only 2 to 5 are supported");
                    }
                }
                case 0x95 -> { // FRAME: frames are transparent here
                    long len = in.remaining() >= 8 ? in.getLong() : -1;
                    if (len < 0) {
                        throw malformed("truncated FRAME");
                    }
                }
                case '.' -> { // STOP
                    return pop();
                }
                case '(' -> marks.add(stack.size()); // MARK
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'N' -> push(None.NONE);
                case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                case 'J' -> push((long) need(4).getInt()); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) (need(2).getShort() & 0xffff)); // BININT2
                case 0x8a -> push(long1(u8())); // LONG1
                case 'G' -> push(need(8).order(ByteOrder.BIG_ENDIAN).getDouble()); // BINFLOAT
                case 'X' -> push(utf8(length(need(4).getInt() & 0xffffffffL))); // BINUNICODE
                case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(length(need(8).getLong()))); // BINUNICODE8
                case 'C' -> push(bytes(u8())); // SHORT_BINBYTES
                case 'B' -> push(bytes(length(need(4).getInt() & 0xffffffffL))); // BINBYTES
                case 0x8e -> push(bytes(length(need(8).getLong()))); // BINBYTES8
                case '}' -> push(new PDict()); // EMPTY_DICT
                case ']' -> push(new PList()); // EMPTY_LIST
                case ')' -> push(new PTuple(List.of())); // EMPTY_TUPLE
                case 'd' -> { // DICT
                    List<Object> items = popMark();
                    PDict d = new PDict();
                    putPairs(d, items);
                    push(d);
                }
                case 'l' -> { // LIST
                    PList l = new PList();
                    l.items.addAll(popMark());
                    push(l);
                }
                case 't' -> push(new PTuple(popMark())); // TUPLE
                case 0x85 -> push(new PTuple(popN(1))); // TUPLE1
                case 0x86 -> push(new PTuple(popN(2))); // TUPLE2
                case 0x87 -> push(new PTuple(popN(3))); // TUPLE3
                case 's' -> { // SETITEM
                    List<Object> kv = popN(2);
                    putPairs(asDict(peek(), "SETITEM"), kv);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    putPairs(asDict(peek(), "SETITEMS"), items);
                }
                case 'a' -> { // APPEND
                    Object v = pop();
                    asList(peek(), "APPEND").items.add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    asList(peek(), "APPENDS").items.addAll(items);
                }
                case 'q' -> memo.put((long) u8(), peek()); // BINPUT
                case 'r' -> memo.put(need(4).getInt() & 0xffffffffL, peek()); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'h' -> push(memoGet(u8())); // BINGET
                case 'j' -> push(memoGet(need(4).getInt() & 0xffffffffL)); // LONG_BINGET
                case 'c' -> { // GLOBAL
                    String module = line();
                    String name = line();
                    push(resolve(module, name));
                }
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw malformed(
                                "STACK_GLOBAL needs two strings, got " + describe(module) + " and " + describe(name));
                    }
                    push(resolve(m, n));
                }
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object fn = pop();
                    push(reduce(fn, args));
                }
                case 0x81 -> { // NEWOBJ: cls.__new__(cls, *args)
                    Object args = pop();
                    Object cls = pop();
                    if (cls != Callable.ORDERED_DICT) {
                        throw malformed("NEWOBJ of " + describe(cls) + " is not supported");
                    }
                    checkArgs(args, 0, 0, "OrderedDict.__new__");
                    push(new PDict());
                }
                case 'b' -> { // BUILD: instance state; only dicts (OrderedDict attributes) take one
                    Object state = pop();
                    Object target = peek();
                    if (!(target instanceof PDict)) {
                        throw malformed("BUILD on " + describe(target) + " with state " + describe(state)
                                + " is not supported");
                    }
                    // OrderedDict attributes (e.g. a state_dict's _metadata) are not entries: dropped.
                }
                case 'Q' -> push(persistent(pop())); // BINPERSID
                default ->
                    throw malformed(String.format(
                            "has opcode 0x%02x ('%s') at byte %d, which a tensor checkpoint never needs",
                            op, op >= 0x20 && op < 0x7f ? String.valueOf((char) op) : "?", at));
            }
        }
    }

    // ---- globals and calls -------------------------------------------------------------------

    private Global resolve(String module, String name) {
        String qualified = module + "." + name;
        Global g = ALLOWED.get(qualified);
        if (g == null) {
            throw new IllegalArgumentException("refusing global '" + qualified + "' in " + where
                    + ": only tensors and dicts can be loaded; convert the checkpoint to safetensors");
        }
        return g;
    }

    private Object reduce(Object fn, Object args) {
        if (!(fn instanceof Callable c)) {
            throw malformed("REDUCE calls " + describe(fn) + ", which is not callable here");
        }
        List<Object> a = checkArgs(args, 0, 7, c.qualifiedName);
        return switch (c) {
            case ORDERED_DICT -> orderedDict(a);
            case REBUILD_TENSOR_V2 -> rebuildTensor(a);
            case REBUILD_PARAMETER -> {
                checkArgs(args, 3, 3, c.qualifiedName);
                yield tensorArg(a.get(0), c.qualifiedName);
            }
            case REBUILD_PARAMETER_WITH_STATE -> {
                checkArgs(args, 4, 4, c.qualifiedName);
                yield tensorArg(a.get(0), c.qualifiedName);
            }
        };
    }

    private PDict orderedDict(List<Object> a) {
        PDict d = new PDict();
        if (a.size() > 1) {
            throw malformed("OrderedDict takes at most one argument, got " + a.size());
        }
        if (a.size() == 1) {
            List<Object> pairs =
                    a.get(0) instanceof PList l ? l.items : a.get(0) instanceof PTuple t ? t.items() : null;
            if (pairs == null) {
                throw malformed("OrderedDict(" + describe(a.get(0)) + ") is not supported");
            }
            for (Object p : pairs) {
                if (!(p instanceof PTuple t) || t.items().size() != 2) {
                    throw malformed("OrderedDict items must be (key, value) pairs, got " + describe(p));
                }
                putPairs(d, t.items());
            }
        }
        return d;
    }

    /** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
    private TensorRef rebuildTensor(List<Object> a) {
        String fn = Callable.REBUILD_TENSOR_V2.qualifiedName;
        if (a.size() < 6) {
            throw malformed(fn + " needs at least 6 arguments, got " + a.size());
        }
        if (!(a.get(0) instanceof StorageRef storage)) {
            throw malformed(fn + " expects a storage first, got " + describe(a.get(0)));
        }
        long offset = longArg(a.get(1), fn + " storage_offset");
        long[] size = longTuple(a.get(2), fn + " size");
        long[] stride = longTuple(a.get(3), fn + " stride");
        if (size.length != stride.length) {
            throw malformed(fn + " size " + Arrays.toString(size) + " and stride " + Arrays.toString(stride)
                    + " differ in rank");
        }
        if (!(a.get(4) instanceof Boolean)) {
            throw malformed(fn + " requires_grad must be a bool, got " + describe(a.get(4)));
        }
        return new TensorRef(storage, offset, size, stride);
    }

    /** ('storage', storage_type, key, location, numel) -> the storage record it names. */
    private StorageRef persistent(Object pid) {
        if (!(pid instanceof PTuple t)
                || t.items().size() != 5
                || !"storage".equals(t.items().get(0))) {
            throw malformed("persistent id " + describe(pid) + " is not ('storage', type, key, location, numel)");
        }
        List<Object> p = t.items();
        if (!(p.get(1) instanceof StorageType type)) {
            throw malformed("persistent id names storage type " + describe(p.get(1)) + ", not a typed storage");
        }
        if (!(p.get(2) instanceof String key) || !key.matches("[A-Za-z0-9_]{1,64}")) {
            throw malformed("persistent id has storage key " + describe(p.get(2)) + ", expected a short name");
        }
        String location = p.get(3) instanceof String s ? s : String.valueOf(p.get(3));
        long numel = longArg(p.get(4), "storage numel");
        if (numel < 0) {
            throw malformed("storage '" + key + "' has negative size " + numel);
        }
        return new StorageRef(key, type.dtype(), location, numel);
    }

    private TensorRef tensorArg(Object o, String fn) {
        if (!(o instanceof TensorRef t)) {
            throw malformed(fn + " expects a tensor first, got " + describe(o));
        }
        return t;
    }

    private List<Object> checkArgs(Object args, int min, int max, String fn) {
        if (!(args instanceof PTuple t)) {
            throw malformed(fn + " called with " + describe(args) + " instead of an argument tuple");
        }
        if (t.items().size() < min || t.items().size() > max) {
            throw malformed(fn + " called with " + t.items().size() + " arguments, expected " + min + ".." + max);
        }
        return t.items();
    }

    private long longArg(Object o, String what) {
        if (!(o instanceof Long l)) {
            throw malformed(what + " must be an int, got " + describe(o));
        }
        return l;
    }

    private long[] longTuple(Object o, String what) {
        if (!(o instanceof PTuple t)) {
            throw malformed(what + " must be a tuple of ints, got " + describe(o));
        }
        long[] r = new long[t.items().size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = longArg(t.items().get(i), what);
        }
        return r;
    }

    // ---- containers ---------------------------------------------------------------------------

    private void putPairs(PDict d, List<Object> kv) {
        if (kv.size() % 2 != 0) {
            throw malformed("dict items come in key/value pairs, got an odd count " + kv.size());
        }
        for (int i = 0; i < kv.size(); i += 2) {
            Object k = kv.get(i);
            if (!(k instanceof String
                    || k instanceof Long
                    || k instanceof Double
                    || k instanceof Boolean
                    || k instanceof None
                    || k instanceof PTuple)) {
                throw malformed("dict key " + describe(k) + " is not hashable");
            }
            d.map.put(k, kv.get(i + 1));
        }
    }

    private PDict asDict(Object o, String op) {
        if (!(o instanceof PDict d)) {
            throw malformed(op + " on " + describe(o) + ", not a dict");
        }
        return d;
    }

    private PList asList(Object o, String op) {
        if (!(o instanceof PList l)) {
            throw malformed(op + " on " + describe(o) + ", not a list");
        }
        return l;
    }

    // ---- stack and memo -----------------------------------------------------------------------

    private void push(Object o) {
        stack.add(o);
    }

    private Object pop() {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) {
            throw malformed("pops an empty stack at byte " + (in.position() - 1));
        }
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) {
            throw malformed("reads an empty stack at byte " + (in.position() - 1));
        }
        return stack.get(stack.size() - 1);
    }

    private List<Object> popN(int n) {
        List<Object> r = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            r.add(0, pop());
        }
        return r;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw malformed("needs a MARK that was never set, at byte " + (in.position() - 1));
        }
        int m = marks.remove(marks.size() - 1);
        List<Object> sub = stack.subList(m, stack.size());
        List<Object> items = new ArrayList<>(sub);
        sub.clear();
        return items;
    }

    private Object memoGet(long index) {
        Object o = memo.get(index);
        if (o == null) {
            throw malformed("reads memo slot " + index + " that was never written");
        }
        return o;
    }

    // ---- raw reads ----------------------------------------------------------------------------

    private ByteBuffer need(int n) {
        if (in.remaining() < n) {
            throw malformed("is truncated at byte " + in.position());
        }
        ByteBuffer slice = in.slice(in.position(), n).order(ByteOrder.LITTLE_ENDIAN);
        in.position(in.position() + n);
        return slice;
    }

    private int u8() {
        return need(1).get() & 0xff;
    }

    private int length(long n) {
        if (n < 0 || n > in.remaining()) {
            throw malformed("declares a " + n + "-byte value with only " + in.remaining() + " bytes left");
        }
        return (int) n;
    }

    private long long1(int n) {
        if (n > 8) {
            throw malformed("has a " + n + "-byte integer, larger than any tensor checkpoint needs");
        }
        ByteBuffer b = need(n);
        long v = 0;
        for (int i = 0; i < n; i++) {
            v |= (b.get(i) & 0xffL) << (8 * i);
        }
        if (n > 0 && n < 8 && (b.get(n - 1) & 0x80) != 0) {
            v |= -1L << (8 * n); // sign-extend two's complement
        }
        return v;
    }

    private String utf8(int n) {
        ByteBuffer b = need(length(n));
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(b)
                    .toString();
        } catch (CharacterCodingException e) {
            throw malformed("has a string that is not valid UTF-8 at byte " + in.position());
        }
    }

    private byte[] bytes(int n) {
        byte[] r = new byte[n];
        need(length(n)).get(r);
        return r;
    }

    private String line() {
        int start = in.position();
        for (int i = start; i < data.length && i - start <= MAX_GLOBAL_LINE; i++) {
            if (data[i] == '\n') {
                in.position(i + 1);
                return new String(data, start, i - start, StandardCharsets.UTF_8);
            }
        }
        throw malformed("has an unterminated GLOBAL name at byte " + start);
    }

    // ---- errors -------------------------------------------------------------------------------

    private IllegalArgumentException malformed(String what) {
        return new IllegalArgumentException("unsupported or corrupt pickle: " + where + " " + what
                + "; re-save the checkpoint with torch.save(state_dict) or convert it to safetensors");
    }

    static String describe(Object o) {
        if (o instanceof String s) {
            return "'" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
        }
        if (o instanceof Long || o instanceof Double || o instanceof Boolean) {
            return String.valueOf(o);
        }
        if (o instanceof None) {
            return "None";
        }
        if (o instanceof PTuple t) {
            return "a tuple of " + t.items().size();
        }
        if (o instanceof PList) {
            return "a list";
        }
        if (o instanceof PDict) {
            return "a dict";
        }
        if (o instanceof byte[]) {
            return "bytes";
        }
        if (o instanceof Callable c) {
            return c.qualifiedName;
        }
        if (o instanceof StorageType s) {
            return s.qualifiedName();
        }
        if (o instanceof StorageRef) {
            return "a storage";
        }
        if (o instanceof TensorRef) {
            return "a tensor";
        }
        return "a value";
    }
}
