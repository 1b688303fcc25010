package io.averager.topology;

import io.averager.ema.Profile;
import io.averager.lifecycle.CheckpointEvent;
import io.averager.wire.Tensors;
import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.TensorInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Turns checkpoint events into checkpoint records, one checkpoint per profile, keyed by run:
 * a {@link CheckpointHeader} with the layout in EMA dtypes and the file metadata, a
 * {@link CheckpointChunk} per EMA entry, and a {@link CheckpointCommit}. Stateless.
 */
final class EmitProcessor implements Processor<String, CheckpointEvent, String, Object> {

    private final List<Profile> profiles;
    private final TopologyObserver observer;
    private ProcessorContext<String, Object> context;

    EmitProcessor(List<Profile> profiles, TopologyObserver observer) {
        this.profiles = profiles;
        this.observer = observer;
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
        this.context = context;
    }

    @Override
    public void process(Record<String, CheckpointEvent> record) {
        if (record.value() instanceof CheckpointEvent.Begin begin) {
            SnapshotHeader h = begin.header();
            List<TensorInfo> emaTensors = new ArrayList<>();
            for (TensorInfo t : h.getTensors()) {
                emaTensors.add(new TensorInfo(t.getName(), Tensors.dtype(Tensors.dtype(t.getDtype()).accumulator()), t.getShape()));
            }
            for (Profile p : profiles) {
                forward(record, new CheckpointHeader(h.getRun(), p.name(), h.getStep(), emaTensors, h.getGrid(),
                        h.getChunkCount(), metadata(h, p, begin), begin.rewinds()));
            }
        } else if (record.value() instanceof CheckpointEvent.Data d) {
            // Avro encodes the remaining bytes without retaining the buffer past this call.
            forward(record, new CheckpointChunk(d.run(), d.profile(), d.step(), d.tensor(), d.offset(), d.ema()));
        } else if (record.value() instanceof CheckpointEvent.End end) {
            for (Profile p : profiles) {
                forward(record, new CheckpointCommit(end.run(), p.name(), end.step(), end.chunkCount(), end.abortReason()));
                if (end.abortReason() == null) {
                    observer.checkpointEmitted(end.run(), p.name(), end.step());
                }
            }
        }
    }

    private void forward(Record<String, CheckpointEvent> record, Object value) {
        context.forward(record.withValue(value), AveragerTopology.CHECKPOINTS);
    }

    /** The checkpoint file's metadata: the publisher's, then ours, which win on a clash. */
    static Map<String, String> metadata(SnapshotHeader h, Profile p, CheckpointEvent.Begin begin) {
        return CheckpointMetadata.of(h.getMetadata(), h.getRun(), p, h.getStep(), begin.snapshotsAveraged(), begin.parent(),
                begin.parentStep());
    }
}
