package io.averager.topology;

import io.averager.metrics.RunMeters;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Decodes each snapshot record and checks what can be checked without state ({@link RecordCheck}).
 * Passes an {@link Inbound} on to apply, or dead-letters the record with the reason.
 */
final class ValidateProcessor implements Processor<byte[], byte[], Object, Object> {

    private final RecordCheck check;
    private final TopologyObserver observer;
    private final RunMeters meters;
    private ProcessorContext<Object, Object> context;

    ValidateProcessor(TopologySettings settings) {
        this.check = new RecordCheck(settings);
        this.observer = settings.observer();
        this.meters = settings.meters();
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        try {
            validate(record);
        } finally {
            // After the whole chain below has run: the record is fully processed.
            context.recordMetadata().ifPresent(m -> observer.consumed(m.partition(), m.offset(),
                    record.value() == null ? 0 : record.value().length));
        }
    }

    private void validate(Record<byte[], byte[]> record) {
        RecordCheck.Checked c = check.check(record.key(), record.value(), record.headers());
        if (c.problem() != null) {
            DeadLetter.send(context, meters, record, record.key(), record.value(), c.reason(), c.problem());
        } else if (c.message() != null) {
            context.forward(record.withKey((Object) c.run()).withValue(new Inbound(record.key(), record.value(), c.message())),
                    AveragerTopology.APPLY);
        }
    }
}
