package io.averager.lifecycle;

import io.averager.wire.Tensors;
import io.averager.wire.avro.TensorInfo;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Which chunks of a pending snapshot have been applied, as a bitset over the header's chunk
 * order: the tensors in declaration order, and within each the offsets {@code 0, grid, 2*grid,
 * ...}. One bit a chunk: a 70B-parameter model on the default grid needs about 9 KiB. Buffers
 * are never changed in place.
 */
final class ReceivedChunks {

    /** How many missing chunks a report names before it only counts the rest. */
    static final int LISTED = 5;

    private ReceivedChunks() {
    }

    /** A bitset with no chunk received. */
    static ByteBuffer none(int chunkCount) {
        return ByteBuffer.wrap(new byte[(chunkCount + 7) / 8]);
    }

    /** A copy of {@code bits} with the chunk of {@code tensor} at {@code offset} set. */
    static ByteBuffer mark(ByteBuffer bits, List<TensorInfo> tensors, long grid, String tensor, long offset) {
        long index = index(tensors, grid, tensor, offset);
        byte[] copy = new byte[bits.remaining()];
        bits.duplicate().get(copy);
        if (index >= 0 && index / 8 < copy.length) {
            copy[(int) (index / 8)] |= (byte) (1 << (index % 8));
        }
        return ByteBuffer.wrap(copy);
    }

    /**
     * The chunks not received, as {@code tensor@offset}: the first {@value #LISTED}, then how many
     * more, e.g. {@code "w@0, w@4 and 3 more"}. Empty when every chunk was received; null when
     * the bitset does not cover the layout.
     */
    static String missing(ByteBuffer bits, List<TensorInfo> tensors, long grid) {
        List<String> named = new ArrayList<>();
        long more = 0;
        long index = 0;
        for (TensorInfo t : tensors) {
            long numel = Tensors.spec(t).numel();
            for (long offset = 0; offset < numel; offset += grid, index++) {
                if (index / 8 >= bits.remaining()) {
                    return null;
                }
                if ((bits.get(bits.position() + (int) (index / 8)) & (1 << (index % 8))) != 0) {
                    continue;
                }
                if (named.size() < LISTED) {
                    named.add(t.getName() + "@" + offset);
                } else {
                    more++;
                }
            }
        }
        return String.join(", ", named) + (more > 0 ? " and " + more + " more" : "");
    }

    /** The position of a chunk in the header's chunk order, or -1 if the tensor is not declared. */
    static long index(List<TensorInfo> tensors, long grid, String tensor, long offset) {
        long before = 0;
        for (TensorInfo t : tensors) {
            if (t.getName().equals(tensor)) {
                return before + offset / grid;
            }
            before += SnapshotRules.chunksOf(Tensors.spec(t).numel(), grid);
        }
        return -1;
    }
}
