package io.averager.bench;

import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.topology.TopologyObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.management.GcInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.Map;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The service under benchmark, as its own JVM so that its memory is measured alone: starts the
 * service from a properties file, prints {@code ready} once Kafka Streams runs, one
 * {@code applied RUN STEP CPU_NANOS PRODUCED_BYTES JIT_NANOS} line a snapshot averaged and one
 * {@code checkpoint RUN STEP ...} line a manifest (with the process's CPU time, what its
 * producers have sent, {@link ProducedBytes}, and its JIT compilers' CPU time,
 * {@link CompilerThreads}), and on end of input stops and prints
 * {@code peak HEAP RSS}: the most heap in use after a collection (what the service held, and
 * what the collector chose to keep, as the collectors report it), and the resident set's
 * high water mark from {@code /proc/self/status}, in bytes, and the CPU time the process used, in
 * nanoseconds.
 */
public final class BenchService {

    private BenchService() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(args[0]))) {
            props.load(in);
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        AtomicLong peakHeap = new AtomicLong();
        // What a collection leaves is what the service holds (and the collector kept): the most of it over the run.
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ((NotificationEmitter) gc).addNotificationListener((notification, handback) -> {
                if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(notification.getType())) {
                    GcInfo info = GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData()).getGcInfo();
                    peakHeap.accumulateAndGet(heapUsed(info.getMemoryUsageAfterGc()), Math::max);
                }
            }, null, null);
        }
        TopologyObserver applied = new TopologyObserver() {
            @Override
            public void snapshotCommitted(String run, long step) {
                out.println("applied " + run + " " + step + " " + spent());
            }
        };
        try (AveragerService service = AveragerService.start(new AveragerConfig(props), applied,
                m -> out.println("checkpoint " + m.getRun() + " " + m.getStep() + " " + spent()))) {
            while (service.state() != KafkaStreams.State.RUNNING) {
                Thread.sleep(20);
            }
            out.println("ready");
            System.in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        out.println("peak " + peakHeap.get() + " " + peakRss());
    }

    /** CPU nanoseconds, bytes produced and JIT nanoseconds so far. */
    private static String spent() {
        return cpuNanos() + " " + ProducedBytes.now() + " " + CompilerThreads.cpuNanos();
    }

    /** Bytes in use in the heap's pools, of a collector's usage figures. */
    private static long heapUsed(Map<String, MemoryUsage> pools) {
        long used = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            MemoryUsage usage = pools.get(pool.getName());
            if (pool.getType() == MemoryType.HEAP && usage != null) {
                used += usage.getUsed();
            }
        }
        return used;
    }

    /** CPU time this process has used, in nanoseconds, or -1 where the platform does not say. */
    private static long cpuNanos() {
        return ProcessHandle.current().info().totalCpuDuration().map(d -> d.toNanos()).orElse(-1L);
    }

    /** VmHWM of this process in bytes, or -1 where /proc does not say. */
    private static long peakRss() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) {
            return -1;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return -1;
    }
}
