package io.averager.sink;

import io.averager.AveragerException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Which Kafka errors of the sink a retry cures, and what to tell the operator about the others.
 * Fencing, epoch, rebalance and timeout errors are retriable: another instance took the
 * partition, or this one restarted, and the checkpoint is assembled again from the committed
 * offsets. Missing permissions, an unsupported broker, or a misconfiguration stay as they are
 * however often the sink tries.
 */
final class SinkErrors {

    private SinkErrors() {
    }

    /** Whether aborting the transaction and reading again from the committed offsets can cure {@code e}. */
    static boolean retriable(KafkaException e) {
        return !(e instanceof AuthenticationException || e instanceof AuthorizationException
                || e instanceof UnsupportedVersionException || e instanceof InvalidConfigurationException
                || e instanceof InvalidTopicException || e instanceof RecordTooLargeException
                || e instanceof SerializationException || e instanceof FencedInstanceIdException
                || e instanceof WakeupException || e instanceof InterruptException);
    }

    /** The error that stops the sink, saying what to do about {@code e}. */
    static AveragerException fatal(KafkaException e, String group, String transactionalId) {
        String advice;
        if (e instanceof AuthenticationException) {
            advice = "check the sasl.* and ssl.* settings of the service";
        } else if (e instanceof AuthorizationException) {
            advice = "grant the service's principal READ on consumer group " + group
                    + ", WRITE and DESCRIBE on transactional id " + transactionalId
                    + ", READ on the checkpoints topic and WRITE on the manifests topic";
        } else if (e instanceof FencedInstanceIdException) {
            advice = "another instance runs with the same group.instance.id; give each instance its own";
        } else if (e instanceof UnsupportedVersionException) {
            advice = "the sink needs a broker of Kafka 2.5 or later (transactions with consumer group metadata)";
        } else {
            advice = "restart the service; it goes on from the committed offsets";
        }
        return new AveragerException("Checkpoint sink (group " + group + ", transactional id " + transactionalId
                + ") cannot go on: " + e + "; " + advice, e);
    }
}
