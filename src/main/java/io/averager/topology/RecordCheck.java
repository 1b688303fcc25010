package io.averager.topology;

import io.averager.lifecycle.DeadLetterReason;
import io.averager.lifecycle.SnapshotRules;
import io.averager.wire.RecordLimits;
import io.averager.wire.Signatures;
import io.averager.wire.StrictUtf8;
import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.avro.ForkRequest;
import io.averager.wire.avro.RebuildMark;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.SeedChunk;
import io.averager.wire.avro.SeedMark;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * What can be checked of a snapshots record without state: the key is the run id in UTF-8, the
 * record is signed if its run must be, the value is a record of that run the topology takes, and
 * its fields are sane. Used by {@link ValidateProcessor} on every record, and again on the records
 * a local EMA catches up on, so that they are taken or refused alike.
 */
final class RecordCheck {

    /**
     * What the check made of a record: its run and message, or why it is refused (its reason and
     * problem), or neither for a record the topology's selection leaves out.
     */
    record Checked(String run, SpecificRecordBase message, DeadLetterReason reason, String problem) {
        static final Checked SKIPPED = new Checked(null, null, null, null);

        static Checked refused(String run, DeadLetterReason reason, String problem) {
            return new Checked(run, null, reason, problem);
        }
    }

    private final SnapshotRules rules;
    private final Signatures signatures;
    private final Selection selection;

    RecordCheck(TopologySettings settings) {
        this.rules = new SnapshotRules(settings.maxGrid(), settings.maxTensorElements());
        this.signatures = settings.signatures();
        this.selection = settings.selection();
    }

    Checked check(byte[] key, byte[] value, Headers headers) {
        if (key == null) {
            return Checked.refused(null, DeadLetterReason.MALFORMED, "record has no key: expected the run id");
        }
        String run = StrictUtf8.decodeOrNull(key);
        if (run == null) {
            return Checked.refused(null, DeadLetterReason.MALFORMED, "record key is not valid UTF-8: expected the run id");
        } else if (run.isEmpty() || key.length > RecordLimits.MAX_RUN_BYTES) {
            return Checked.refused(null, DeadLetterReason.MALFORMED, "record key of " + key.length
                    + " bytes: expected a run id of 1 to " + RecordLimits.MAX_RUN_BYTES + " bytes");
        } else if (!selection.keepsRun(run)) {
            return Checked.SKIPPED;
        }
        String problem = unsigned(run, key, value, headers);
        if (problem != null) {
            return Checked.refused(run, DeadLetterReason.UNSIGNED, problem);
        }
        SpecificRecordBase message;
        try {
            message = WireCodec.decode(value);
            problem = checkMessage(run, message);
        } catch (WireException e) {
            return Checked.refused(run, DeadLetterReason.MALFORMED, "Record for run " + run + ": " + e.getMessage());
        }
        if (problem != null) {
            return Checked.refused(run, DeadLetterReason.MALFORMED, problem);
        }
        boolean fork = message instanceof ForkRequest || message instanceof SeedMark || message instanceof SeedChunk;
        if (!fork && !selection.keepsStep(stepOf(message))) {
            return Checked.SKIPPED;
        }
        return new Checked(run, message, null, null);
    }

    /**
     * Why a record of a signed run is refused, or null: it must carry the MAC of its key and
     * value under its prefix's key. Checked before the value is even decoded.
     */
    private String unsigned(String run, byte[] key, byte[] value, Headers headers) {
        byte[] secret = signatures.keyOf(run);
        if (secret == null) {
            return null;
        }
        Header mac = headers.lastHeader(Signatures.HEADER);
        if (mac == null) {
            return "Record for run " + run + " has no " + Signatures.HEADER + " header; runs of prefix "
                    + signatures.prefixOf(run) + " take signed records only (averager.snapshot.signing.keys)";
        }
        if (value == null || !Signatures.verify(secret, key, value, mac.value())) {
            return "Record for run " + run + " is not signed with the key of prefix " + signatures.prefixOf(run)
                    + ": its " + Signatures.HEADER + " does not match its key and value";
        }
        return null;
    }

    private String checkMessage(String key, SpecificRecordBase message) {
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
