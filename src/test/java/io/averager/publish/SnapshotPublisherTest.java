package io.averager.publish;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.AveragerException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A publisher that cannot reach Kafka fails with the project's exception and leaves no producer
 * behind: a leftover one would keep trying to register the transactional id and, once the
 * broker answers, fence the publisher created to replace it.
 */
class SnapshotPublisherTest {

    @Test
    void failingToStartLeavesNoProducerRunning() {
        String transactionalId = "publisher-test-" + ProcessHandle.current().pid();
        Map<String, Object> unreachable = Map.of("bootstrap.servers", "127.0.0.1:1", "transactional.id", transactionalId,
                "max.block.ms", 300);

        assertThatThrownBy(() -> new SnapshotPublisher(unreachable, "snapshots", 1024))
                .isInstanceOf(AveragerException.class)
                .hasMessageContaining("snapshots")
                .hasMessageContaining(transactionalId);
        assertThat(Thread.getAllStackTraces().keySet()).extracting(Thread::getName)
                .noneMatch(name -> name.contains(transactionalId));
    }
}
