package io.averager.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU spent over a stretch of a benchmark: by this JVM (which hosts the embedded broker and the
 * bench's own clients), and by the whole machine, as cores kept busy on average. On a machine
 * whose cores are all busy, throughput is set by the CPU seconds a byte costs, which is why the
 * pipeline bench prints both.
 */
record CpuUse(double processSeconds, double busyCores) {

    private static final Path PROC_STAT = Path.of("/proc/stat");

    /** The counters at one moment; {@link #since()} turns two moments into a use. */
    record Mark(long processNanos, long busyTicks, long totalTicks) {

        /** CPU used from this mark to now; {@code busyCores} is NaN where {@code /proc/stat} is missing. */
        CpuUse since() {
            Mark now = now();
            long total = now.totalTicks - totalTicks;
            double busy = total <= 0 ? Double.NaN
                    : (double) (now.busyTicks - busyTicks) / total * Runtime.getRuntime().availableProcessors();
            return new CpuUse((now.processNanos - processNanos) / 1e9, busy);
        }
    }

    /** This JVM's CPU time and the machine's busy and total ticks now. */
    static Mark now() {
        long process = ProcessHandle.current().info().totalCpuDuration().map(d -> d.toNanos()).orElse(0L);
        long[] ticks = machineTicks();
        return new Mark(process, ticks[0], ticks[1]);
    }

    /** {@code seconds} of CPU spent on {@code bytes}, a GiB. */
    static double perGib(double seconds, long bytes) {
        return seconds / (bytes / (double) (1 << 30));
    }

    /**
     * Busy and total ticks of all cores from the first line of {@code /proc/stat}
     * ({@code cpu user nice system idle iowait irq softirq steal ...}): busy is all but idle and
     * iowait. Zeros where there is no {@code /proc}.
     */
    private static long[] machineTicks() {
        if (!Files.isReadable(PROC_STAT)) {
            return new long[] {0, 0};
        }
        try {
            String[] fields = Files.readAllLines(PROC_STAT).get(0).trim().split("\\s+");
            long total = 0;
            for (int i = 1; i < Math.min(fields.length, 9); i++) {
                total += Long.parseLong(fields[i]);
            }
            long idle = Long.parseLong(fields[4]) + Long.parseLong(fields[5]);
            return new long[] {total - idle, total};
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
