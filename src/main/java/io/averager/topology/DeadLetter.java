package io.averager.topology;

import io.averager.lifecycle.DeadLetterReason;
import io.averager.metrics.RunMeters;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds dead-letter records: the offending bytes as they arrived, with the reason and where they
 * came from in headers, and counts them by their {@link DeadLetterReason}. Headers: {@code averager.error} (the reason), {@code averager.source}
 * (topic-partition@offset, when known), and the producer's own headers.
 */
final class DeadLetter {

    static final String ERROR_HEADER = "averager.error";
    static final String SOURCE_HEADER = "averager.source";

    private static final Logger log = LoggerFactory.getLogger(DeadLetter.class);

    private DeadLetter() {
    }

    static void send(ProcessorContext<Object, Object> context, RunMeters meters, Record<?, ?> original,
                     byte[] key, byte[] value, DeadLetterReason category, String reason) {
        Headers headers = new RecordHeaders(original.headers().toArray());
        headers.add(ERROR_HEADER, reason.getBytes(StandardCharsets.UTF_8));
        String source = context.recordMetadata()
                .map(m -> m.topic() + "-" + m.partition() + "@" + m.offset())
                .orElse("unknown");
        headers.add(SOURCE_HEADER, source.getBytes(StandardCharsets.UTF_8));
        log.warn("Dead-lettered record from {}: {}", source, reason);
        meters.deadLetter(category.tag());
        context.forward(new Record<>(key, value, original.timestamp(), headers), AveragerTopology.DEAD_LETTERS);
    }
}
