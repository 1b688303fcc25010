package io.averager.bench;

import io.averager.ema.Dtype;
import io.averager.kernel.Kernel;
import io.averager.kernel.Kernels;
import io.averager.publish.SnapshotPublisher;
import io.averager.store.EmaEntry;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.PendingSnapshot;
import io.averager.wire.avro.RunLayout;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.RunState;
import io.averager.wire.avro.TensorInfo;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * What a run's state costs with every chunk applied, against the chunk's own EMA update in the
 * same run: the run's record is read from the runs store, decoded, changed, encoded and written
 * back (and so sent to its changelog) once a chunk. Three layouts: the pipeline bench's 10M and
 * 1B models, and a 7B model's shape (291 tensors with long names). For each, the bytes written a
 * chunk and the CPU time a chunk of decoding and encoding, for the single {@code RunState} record
 * the runs store held before the layout was split off, for the split state with the layout
 * decoded with every chunk, and for what the service does: the layout kept decoded while its
 * step stays the progress's. The limit is one F32 grid chunk's update by the plain-Java kernel,
 * from memory (the service's own CPU a chunk, end to end, is several times more).
 * Single-threaded.
 */
public final class StateBench {

    private static final long GRID = SnapshotPublisher.DEFAULT_GRID;
    private static final int CHUNKS = 32;
    private static final long MEASURE_NANOS = 1_000_000_000;

    /** A model's layout: {@code tensors} tensors of {@code numel} elements, names {@code nameLength} characters long. */
    record Layout(String name, int tensors, long numel, int nameLength) {
    }

    static final List<Layout> LAYOUTS = List.of(
            new Layout("10M (pipeline bench)", 1, 10_000_000L, 14),
            new Layout("1B (pipeline bench)", 60, 1L << 24, 15),
            new Layout("7B-like (291 tensors)", 291, 23_000_000L, 48));

    private final PrintStream out;
    private final long nanos;

    public StateBench(PrintStream out) {
        this(out, MEASURE_NANOS);
    }

    /** A bench that warms each measurement up for {@code nanos}, then times it for as long. */
    StateBench(PrintStream out, long nanos) {
        this.out = out;
        this.nanos = nanos;
    }

    public void run() {
        double update = updateMicros();
        out.printf("Run state a chunk, against one F32 chunk's update (%d elements, kernel java): %.0f us%n", GRID, update);
        out.printf("%-22s %7s | %-26s | %-26s | %-26s%n", "layout", "chunks", "one record (before)",
                "split, layout decoded", "split, layout kept (now)");
        for (Layout l : LAYOUTS) {
            List<TensorInfo> tensors = new ArrayList<>();
            long chunks = 0;
            for (int i = 0; i < l.tensors(); i++) {
                String name = ("model.layers." + i + ".self_attn.q_proj.weight" + "_".repeat(l.nameLength()))
                        .substring(0, l.nameLength());
                tensors.add(new TensorInfo(name, io.averager.wire.avro.Dtype.F32, List.of(l.numel())));
                chunks += (l.numel() + GRID - 1) / GRID;
            }
            PendingSnapshot pending = new PendingSnapshot(100L, false, false, 1L, 5, 7L,
                    ByteBuffer.wrap(new byte[(int) ((chunks + 7) / 8)]), null);
            byte[] state = WireCodec.encode(new RunState(tensors, GRID, (int) chunks, 99L, 10L, 90L, 1L, pending));
            byte[] progress = WireCodec.encode(new RunProgress(1L, 99L, 10L, 90L, 1L, pending, 0, -1L, -1L, null, null, -1L, false, -1L, -1L));
            byte[] layout = WireCodec.encode(new RunLayout(1L, tensors, GRID, (int) chunks, List.of()));
            double before = micros(() -> WireCodec.encode(WireCodec.decode(state, RunState.class)));
            double decoded = micros(() -> {
                WireCodec.decode(layout, RunLayout.class);
                WireCodec.encode(WireCodec.decode(progress, RunProgress.class));
            });
            double kept = micros(() -> WireCodec.encode(WireCodec.decode(progress, RunProgress.class)));
            out.printf("%-22s %7d | %s | %s | %s%n", l.name(), chunks, cell(state.length, before, update),
                    cell(progress.length, decoded, update), cell(progress.length, kept, update));
        }
    }

    /** "16296 B, 154.0 us, 3.9%": bytes written a chunk, CPU a chunk, and that as a share of the update. */
    private static String cell(int bytes, double micros, double update) {
        return String.format("%7d B %7.1f us %5.2f%%", bytes, micros, 100 * micros / update);
    }

    /** One chunk's update, cycling over {@value #CHUNKS} entries and inputs so that it runs from memory, not cache. */
    private double updateMicros() {
        Kernel kernel = Kernels.byName(Kernels.JAVA);
        int count = Math.toIntExact(GRID);
        EmaEntry[] entries = new EmaEntry[CHUNKS];
        ByteBuffer[] inputs = new ByteBuffer[CHUNKS];
        for (int i = 0; i < CHUNKS; i++) {
            entries[i] = EmaEntry.allocate(count * Dtype.F32.size());
            inputs[i] = ByteBuffer.allocate(count * Dtype.F32.size()).order(ByteOrder.LITTLE_ENDIAN);
        }
        int[] next = {0};
        return micros(() -> {
            int i = next[0]++ % CHUNKS;
            kernel.update(entries[i].data(), Dtype.F32, inputs[i], Dtype.F32, count, 0.999);
        });
    }

    /** Mean wall time of one call after a warm-up, in microseconds; single-threaded, so CPU time too. */
    private double micros(Runnable call) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() < end) {
            call.run();
        }
        long calls = 0;
        long start = System.nanoTime();
        end = start + nanos;
        long now;
        do {
            call.run();
            calls++;
        } while ((now = System.nanoTime()) < end);
        return (now - start) / 1e3 / calls;
    }
}
