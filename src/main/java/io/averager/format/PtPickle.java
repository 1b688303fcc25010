package io.averager.format;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.wire.StrictUtf8;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Encodes the {@code data.pkl} record of a PyTorch checkpoint: a pickle (protocol 2) of
 * {@code {"state_dict_ema": OrderedDict(name -> tensor), "step": int, "run": str, "profile": str}}
 * in which tensor {@code i} of the list refers to storage record {@code data/i}.
 *
 * <p>Only the opcodes and globals that {@code torch.load(..., weights_only=True)} accepts are
 * emitted, in the shapes Python's own pickler gives them, so that torch 1.13's restricted
 * unpickler and every later one read the result. Stateless.
 */
final class PtPickle {

    /** The key the state dict is stored under; timm's checkpoint loaders look for it. */
    static final String STATE_DICT_KEY = "state_dict_ema";
    /** Python's pickler writes dict items in batches of this many. */
    private static final int BATCH = 1000;

    private static final int PROTO = 0x80;
    private static final int EMPTY_DICT = '}';
    private static final int EMPTY_TUPLE = ')';
    private static final int MARK = '(';
    private static final int SETITEM = 's';
    private static final int SETITEMS = 'u';
    private static final int TUPLE = 't';
    private static final int TUPLE1 = 0x85;
    private static final int REDUCE = 'R';
    private static final int BINPERSID = 'Q';
    private static final int GLOBAL = 'c';
    private static final int BINUNICODE = 'X';
    private static final int BININT = 'J';
    private static final int BININT1 = 'K';
    private static final int BININT2 = 'M';
    private static final int LONG1 = 0x8a;
    private static final int NEWFALSE = 0x89;
    private static final int BINPUT = 'q';
    private static final int LONG_BINPUT = 'r';
    private static final int BINGET = 'h';
    private static final int LONG_BINGET = 'j';
    private static final int STOP = '.';

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    /** Globals and constant strings already written, by their memo index. */
    private final Map<String, Integer> memo = new HashMap<>();

    private PtPickle() {
    }

    /**
     * The pickle of a checkpoint holding {@code tensors}, each contiguous, at storage offset 0, in
     * a storage of its own whose record key is its index in the list.
     *
     * @throws IllegalArgumentException if a string is not valid Unicode (an unpaired surrogate)
     */
    static byte[] checkpoint(List<TensorSpec> tensors, long step, String run, String profile) {
        PtPickle p = new PtPickle();
        p.op(PROTO).op(2).op(EMPTY_DICT).op(MARK);
        p.string(STATE_DICT_KEY);
        p.stateDict(tensors);
        p.string("step").integer(step);
        p.string("run").string(run);
        p.string("profile").string(profile);
        p.op(SETITEMS).op(STOP);
        return p.out.toByteArray();
    }

    /** The class name torch pickles a storage of this dtype as, in module {@code torch}. */
    static String storageType(Dtype dtype) {
        return switch (dtype) {
            case F32 -> "FloatStorage";
            case F64 -> "DoubleStorage";
            case F16 -> "HalfStorage";
            case BF16 -> "BFloat16Storage";
            case I64 -> "LongStorage";
            case I32 -> "IntStorage";
            case I16 -> "ShortStorage";
            case I8 -> "CharStorage";
            case U8 -> "ByteStorage";
            case BOOL -> "BoolStorage";
        };
    }

    /**
     * Strides of a contiguous tensor as torch computes them: a dimension of size 0 counts as 1,
     * so a zero-size tensor gets the strides it would have with that dimension at 1.
     */
    static long[] contiguousStrides(long[] shape) {
        long[] strides = new long[shape.length];
        long stride = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = stride;
            stride = Math.multiplyExact(stride, Math.max(shape[i], 1));
        }
        return strides;
    }

    private void stateDict(List<TensorSpec> tensors) {
        newOrderedDict();
        for (int from = 0; from < tensors.size(); from += BATCH) {
            int to = Math.min(tensors.size(), from + BATCH);
            if (to - from > 1) {
                op(MARK);
            }
            for (int i = from; i < to; i++) {
                string(tensors.get(i).name());
                tensor(tensors.get(i), i);
            }
            op(to - from > 1 ? SETITEMS : SETITEM);
        }
    }

    /** {@code torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}. */
    private void tensor(TensorSpec spec, int key) {
        global("torch._utils", "_rebuild_tensor_v2");
        op(MARK);
        op(MARK);
        string("storage");
        global("torch", storageType(spec.dtype()));
        string(Integer.toString(key));
        string("cpu");
        integer(spec.numel());
        op(TUPLE).op(BINPERSID);
        integer(0);
        longs(spec.shape());
        try {
            longs(contiguousStrides(spec.shape()));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("Tensor " + spec.name() + ": strides of shape "
                    + Arrays.toString(spec.shape()) + " overflow a long", e);
        }
        op(NEWFALSE);
        newOrderedDict();
        op(TUPLE).op(REDUCE);
    }

    private void newOrderedDict() {
        global("collections", "OrderedDict");
        op(EMPTY_TUPLE).op(REDUCE);
    }

    /** A tuple of ints: EMPTY_TUPLE, TUPLE1 to TUPLE3 for short ones, MARK ... TUPLE beyond. */
    private void longs(long[] values) {
        if (values.length == 0) {
            op(EMPTY_TUPLE);
            return;
        }
        if (values.length > 3) {
            op(MARK);
        }
        for (long v : values) {
            integer(v);
        }
        op(values.length > 3 ? TUPLE : TUPLE1 + values.length - 1);
    }

    /** An int in the smallest form Python's pickler uses for it. */
    private PtPickle integer(long v) {
        if (v >= 0 && v <= 0xff) {
            op(BININT1).op((int) v);
        } else if (v >= 0 && v <= 0xffff) {
            op(BININT2).op((int) v & 0xff).op((int) (v >>> 8));
        } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            op(BININT).le32(v);
        } else {
            // Minimal two's complement, little-endian, as pickle's encode_long.
            byte[] big = BigInteger.valueOf(v).toByteArray();
            op(LONG1).op(big.length);
            for (int i = big.length - 1; i >= 0; i--) {
                op(big[i] & 0xff);
            }
        }
        return this;
    }

    private PtPickle string(String s) {
        Integer index = memo.get("s:" + s);
        if (index != null) {
            get(index);
            return this;
        }
        byte[] utf8 = StrictUtf8.encode(s);
        op(BINUNICODE).le32(utf8.length);
        out.writeBytes(utf8);
        if (s.equals("storage") || s.equals("cpu")) {
            put("s:" + s);
        }
        return this;
    }

    private void global(String module, String name) {
        String key = "g:" + module + "." + name;
        Integer index = memo.get(key);
        if (index != null) {
            get(index);
            return;
        }
        op(GLOBAL);
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        put(key);
    }

    private void put(String key) {
        int index = memo.size();
        memo.put(key, index);
        if (index <= 0xff) {
            op(BINPUT).op(index);
        } else {
            op(LONG_BINPUT).le32(index);
        }
    }

    private void get(int index) {
        if (index <= 0xff) {
            op(BINGET).op(index);
        } else {
            op(LONG_BINGET).le32(index);
        }
    }

    private PtPickle op(int b) {
        out.write(b);
        return this;
    }

    private PtPickle le32(long v) {
        return op((int) v & 0xff).op((int) (v >>> 8) & 0xff).op((int) (v >>> 16) & 0xff).op((int) (v >>> 24) & 0xff);
    }
}
