package io.averager.bench;

import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The service under benchmark, as its own JVM so that its memory is measured alone: starts the
 * service from a properties file, prints {@code ready} once Kafka Streams runs, one
 * {@code checkpoint RUN STEP} line a manifest, and on end of input stops and prints
 * {@code peak HEAP RSS CPU}: the most heap in use, sampled every 10 ms, and the resident set's
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
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peakHeap.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "bench-heap-sampler");
        sampler.setDaemon(true);
        sampler.start();
        try (AveragerService service = AveragerService.start(new AveragerConfig(props),
                m -> out.println("checkpoint " + m.getRun() + " " + m.getStep() + " " + cpuNanos()))) {
            while (service.state() != KafkaStreams.State.RUNNING) {
                Thread.sleep(20);
            }
            out.println("ready");
            System.in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        sampler.interrupt();
        out.println("peak " + peakHeap.get() + " " + peakRss());
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
