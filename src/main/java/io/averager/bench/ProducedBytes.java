package io.averager.bench;

import java.lang.management.ManagementFactory;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * Bytes this JVM's Kafka producers have sent to the brokers (their {@code outgoing-byte-total},
 * requests included), from the metrics every Kafka client registers with JMX. The brokers store
 * that many bytes for each replica; log sizes would undercount, since the log cleaner compacts
 * changelogs while a benchmark runs.
 */
final class ProducedBytes {

    private ProducedBytes() {
    }

    static long now() {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        long bytes = 0;
        try {
            for (ObjectName name : server.queryNames(new ObjectName("kafka.producer:type=producer-metrics,client-id=*"), null)) {
                bytes += ((Number) server.getAttribute(name, "outgoing-byte-total")).longValue();
            }
        } catch (JMException e) {
            throw new IllegalStateException("Could not read the producers' metrics", e);
        }
        return bytes;
    }
}
