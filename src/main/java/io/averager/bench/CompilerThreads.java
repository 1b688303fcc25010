package io.averager.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * CPU time this JVM's JIT compiler threads have used, from {@code /proc/self/task}: what a
 * benchmark's short stretch pays to compile code that a service running for days compiles once.
 * A compiler thread the JVM has retired takes its time with it, so the figure can only be low,
 * and what is left after subtracting it only high.
 */
final class CompilerThreads {

    private static final Path TASKS = Path.of("/proc/self/task");
    /** Linux's USER_HZ, which {@code /proc} counts CPU time in on every platform the JVM supports. */
    private static final long TICK_NANOS = 10_000_000;

    private CompilerThreads() {
    }

    /** Nanoseconds of CPU the live compiler threads have used; 0 where there is no {@code /proc}. */
    static long cpuNanos() {
        if (!Files.isDirectory(TASKS)) {
            return 0;
        }
        long ticks = 0;
        try (Stream<Path> tasks = Files.list(TASKS)) {
            for (Path task : tasks.toList()) {
                try {
                    if (Files.readString(task.resolve("comm")).matches("C[12] CompilerThre.*\\s*")) {
                        // Fields after the parenthesised name: state is the 3rd field, utime the 14th, stime the 15th.
                        String stat = Files.readString(task.resolve("stat"));
                        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
                        ticks += Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
                    }
                } catch (IOException e) {
                    // the thread has exited
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return ticks * TICK_NANOS;
    }
}
