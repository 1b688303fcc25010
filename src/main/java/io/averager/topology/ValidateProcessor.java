package io.averager.topology;

import io.averager.lifecycle.DeadLetterReason;
import io.averager.lifecycle.SnapshotRules;
import io.averager.metrics.RunMeters;
import io.averager.wire.RecordLimits;
import io.averager.wire.Signatures;
import io.averager.wire.StrictUtf8;
import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.avro.ForkRequest;
import io.averager.wire.avro.RebuildMark;
import io.averager.wire.avro.SeedChunk;
import io.averager.wire.avro.SeedMark;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Decodes each snapshot record and checks what can be checked without state: the key is the run
 * id in UTF-8, the value is a snapshot header, chunk or commit of that run, and its fields are
 * sane. Passes an {@link Inbound} on to apply, or dead-letters the record with the reason.
 */
final class ValidateProcessor implements Processor<byte[], byte[], Object, Object> {

    private final SnapshotRules rules;
    private final Signatures signatures;
    private final Selection selection;
    private final TopologyObserver observer;
    private final RunMeters meters;
    private ProcessorContext<Object, Object> context;

    ValidateProcessor(TopologySettings settings) {
        this.rules = new SnapshotRules(settings.maxGrid(), settings.maxTensorElements());
        this.signatures = settings.signatures();
        this.selection = settings.selection();
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
        String problem;
        String run = null;
        SpecificRecordBase message = null;
        if (record.key() == null) {
            problem = "record has no key: expected the run id";
        } else if ((run = StrictUtf8.decodeOrNull(record.key())) == null) {
            problem = "record key is not valid UTF-8: expected the run id";
        } else if (run.isEmpty() || record.key().length > RecordLimits.MAX_RUN_BYTES) {
            problem = "record key of " + record.key().length + " bytes: expected a run id of 1 to " + RecordLimits.MAX_RUN_BYTES + " bytes";
        } else if (!selection.keepsRun(run)) {
            return;
        } else if ((problem = unsigned(run, record)) != null) {
            DeadLetter.send(context, meters, record, record.key(), record.value(), DeadLetterReason.UNSIGNED, problem);
            return;
        } else {
            try {
                message = WireCodec.decode(record.value());
                problem = check(run, message);
            } catch (WireException e) {
                problem = "Record for run " + run + ": " + e.getMessage();
            }
        }
        if (problem != null) {
            DeadLetter.send(context, meters, record, record.key(), record.value(), DeadLetterReason.MALFORMED, problem);
            return;
        }
        boolean fork = message instanceof ForkRequest || message instanceof SeedMark || message instanceof SeedChunk;
        if (!fork && !selection.keepsStep(stepOf(message))) {
            return;
        }
        context.forward(record.withKey((Object) run).withValue(new Inbound(record.key(), record.value(), message)),
                AveragerTopology.APPLY);
    }

    /**
     * Why a record of a signed run is refused, or null: it must carry the MAC of its key and
     * value under its prefix's key. Checked before the value is even decoded.
     */
    private String unsigned(String run, Record<byte[], byte[]> record) {
        byte[] secret = signatures.keyOf(run);
        if (secret == null) {
            return null;
        }
        Header mac = record.headers().lastHeader(Signatures.HEADER);
        if (mac == null) {
            return "Record for run " + run + " has no " + Signatures.HEADER + " header; runs of prefix "
                    + signatures.prefixOf(run) + " take signed records only (averager.snapshot.signing.keys)";
        }
        if (record.value() == null || !Signatures.verify(secret, record.key(), record.value(), mac.value())) {
            return "Record for run " + run + " is not signed with the key of prefix " + signatures.prefixOf(run)
                    + ": its " + Signatures.HEADER + " does not match its key and value";
        }
        return null;
    }

    private String check(String key, SpecificRecordBase message) {
        String run;
        if (message instanceof SnapshotHeader h) {
            run = h.getRun();
        } else if (message instanceof SnapshotChunk c) {
            run = c.getRun();
        } else if (message instanceof SnapshotCommit c) {
            run = c.getRun();
        } else if (message instanceof RewindRequest r) {
            run = r.getRun();
        } else if (message instanceof RebuildMark m) {
            run = m.getRun();
        } else if (message instanceof ForkRequest f) {
            run = f.getRun();
        } else if (message instanceof SeedMark m) {
            run = m.getRun();
        } else if (message instanceof SeedChunk c) {
            run = c.getRun();
        } else {
            return "Record for run " + key + ": " + message.getSchema().getName() + " does not belong on the snapshots"
                    + " topic (expected SnapshotHeader, SnapshotChunk, SnapshotCommit, RewindRequest, ForkRequest,"
                    + " or one the service's rebuilder writes)";
        }
        if (!key.equals(run)) {
            return message.getSchema().getName() + " for run " + run + " was published with key " + key
                    + ": the key must be the run id";
        }
        if (message instanceof SnapshotHeader h) {
            return rules.check(h);
        }
        if (message instanceof RewindRequest r) {
            return rules.check(r);
        }
        if (message instanceof ForkRequest f) {
            return rules.check(f);
        }
        if (message instanceof RebuildMark || message instanceof SeedMark || message instanceof SeedChunk) {
            return null;
        }
        return message instanceof SnapshotChunk c ? rules.check(c) : rules.check((SnapshotCommit) message);
    }

    private static long stepOf(SpecificRecordBase message) {
        if (message instanceof SnapshotHeader h) {
            return h.getStep();
        }
        if (message instanceof RewindRequest r) {
            return r.getToStep();
        }
        if (message instanceof RebuildMark m) {
            return m.getToStep();
        }
        return message instanceof SnapshotChunk c ? c.getStep() : ((SnapshotCommit) message).getStep();
    }
}
