package io.averager.store;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.utils.Bytes;

/**
 * Key of one EMA entry: (run, profile, tensor, element offset), each string length-prefixed so
 * that any run id (NUL bytes included) maps to a distinct key and all entries of a run share a
 * key prefix. Offsets are big-endian so a run's entries sort by tensor, then offset.
 */
public final class EmaKey {

    private EmaKey() {
    }

    /**
     * Key of a copy of the run's state that a store without a changelog keeps next to the run's
     * entries, {@code name} naming which: a profile length of -1, which no entry's key has.
     */
    public static Bytes copyOf(String run, String name) {
        byte[] r = run.getBytes(StandardCharsets.UTF_8);
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return Bytes.wrap(ByteBuffer.allocate(8 + r.length + n.length).putInt(r.length).put(r).putInt(-1).put(n).array());
    }

    public static Bytes of(String run, String profile, String tensor, long offset) {
        byte[] r = run.getBytes(StandardCharsets.UTF_8);
        byte[] p = profile.getBytes(StandardCharsets.UTF_8);
        byte[] t = tensor.getBytes(StandardCharsets.UTF_8);
        ByteBuffer key = ByteBuffer.allocate(12 + r.length + p.length + t.length + 8);
        key.putInt(r.length).put(r).putInt(p.length).put(p).putInt(t.length).put(t).putLong(offset);
        return Bytes.wrap(key.array());
    }
}
