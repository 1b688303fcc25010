package io.averager.posthoc;

import io.averager.AveragerException;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsLayout;
import io.averager.format.SafetensorsReader;
import io.averager.format.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Writes the weighted sum of safetensors checkpoints of one layout into a new safetensors file,
 * one chunk of one tensor at a time: the heap holds a chunk's double accumulator and one source
 * chunk, never a tensor or a file, whatever the model size. Floating tensors (F32, F64, as EMA
 * checkpoints hold them) are summed in double and written in their own dtype; integer and bool
 * tensors, which EMA does not average, are copied from one chosen source. The output appears
 * whole or not at all (written to a sibling, then renamed). Stateless; thread-safe.
 */
public final class WeightedSum {

    /** Elements per chunk: 8 MiB of double accumulator. */
    public static final int CHUNK_ELEMENTS = 1 << 20;

    /**
     * One checkpoint file and its weight.
     *
     * @param label names the checkpoint in messages, e.g. "run r profile p step 100"
     */
    public record Source(String label, Path file, double coefficient) {
    }

    private WeightedSum() {
    }

    /**
     * Writes {@code sum_i coefficient_i * source_i} to {@code output}.
     *
     * @param copyFrom the index of the source whose integer and bool tensors are copied
     * @param chunkElements elements per chunk, > 0
     * @throws AveragerException naming the checkpoints and the tensor when the sources' tensors
     *     (names, order, dtypes, shapes) differ or a floating tensor is not F32 or F64
     */
    public static void write(List<Source> sources, int copyFrom, Map<String, String> metadata, Path output,
                             int chunkElements) throws IOException {
        if (sources.isEmpty() || copyFrom < 0 || copyFrom >= sources.size() || chunkElements <= 0) {
            throw new IllegalArgumentException("Weighted sum of " + sources.size() + " sources, copying from "
                    + copyFrom + ", in chunks of " + chunkElements + ": expected sources, a source index and chunks > 0");
        }
        Path absolute = output.toAbsolutePath();
        Path part = absolute.resolveSibling(absolute.getFileName() + ".part");
        List<SafetensorsReader> readers = new ArrayList<>();
        try {
            for (Source s : sources) {
                readers.add(SafetensorsReader.open(s.file()));
            }
            List<TensorSpec> tensors = sameTensors(sources, readers);
            try (SafetensorsWriter writer = SafetensorsWriter.create(part, SafetensorsLayout.of(tensors, metadata))) {
                for (TensorSpec t : tensors) {
                    for (long offset = 0; offset < t.numel(); offset += chunkElements) {
                        int count = (int) Math.min(chunkElements, t.numel() - offset);
                        ByteBuffer chunk = t.dtype().floating()
                                ? sum(sources, readers, t, offset, count)
                                : readers.get(copyFrom).read(t.name(), offset, count);
                        writer.write(t.name(), offset, chunk);
                    }
                }
                writer.force();
            }
            Files.move(part, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            for (SafetensorsReader r : readers) {
                r.close();
            }
            Files.deleteIfExists(part);
        }
    }

    private static ByteBuffer sum(List<Source> sources, List<SafetensorsReader> readers, TensorSpec t, long offset,
                                  int count) throws IOException {
        if (t.dtype() != Dtype.F32 && t.dtype() != Dtype.F64) {
            throw new AveragerException("Checkpoint " + sources.get(0).label() + ": tensor " + t.name() + " is "
                    + t.dtype() + "; expected F32 or F64, the dtypes EMA checkpoints hold floating tensors in");
        }
        double[] acc = new double[count];
        for (int s = 0; s < sources.size(); s++) {
            double c = sources.get(s).coefficient();
            ByteBuffer in = readers.get(s).read(t.name(), offset, count);
            if (t.dtype() == Dtype.F32) {
                for (int i = 0; i < count; i++) {
                    acc[i] += c * in.getFloat(i * 4);
                }
            } else {
                for (int i = 0; i < count; i++) {
                    acc[i] += c * in.getDouble(i * 8);
                }
            }
        }
        ByteBuffer out = ByteBuffer.allocate(count * t.dtype().size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) {
            if (t.dtype() == Dtype.F32) {
                out.putFloat((float) acc[i]);
            } else {
                out.putDouble(acc[i]);
            }
        }
        return out.flip();
    }

    private static List<TensorSpec> sameTensors(List<Source> sources, List<SafetensorsReader> readers) {
        List<TensorSpec> first = readers.get(0).tensors();
        for (int s = 1; s < readers.size(); s++) {
            List<TensorSpec> other = readers.get(s).tensors();
            for (int i = 0; i < Math.max(first.size(), other.size()); i++) {
                TensorSpec a = i < first.size() ? first.get(i) : null;
                TensorSpec b = i < other.size() ? other.get(i) : null;
                if (a == null || !a.equals(b)) {
                    throw new AveragerException("Checkpoints " + sources.get(0).label() + " and " + sources.get(s).label()
                            + " differ at tensor " + (i + 1) + ": " + show(a) + " vs " + show(b)
                            + "; a weighted sum needs checkpoints of the same model");
                }
            }
        }
        return first;
    }

    private static String show(TensorSpec t) {
        return t == null ? "none" : t.name() + " " + t.dtype() + " " + Arrays.toString(t.shape());
    }
}
