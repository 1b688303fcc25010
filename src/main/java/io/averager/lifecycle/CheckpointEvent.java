package io.averager.lifecycle;

import io.averager.wire.avro.SnapshotHeader;
import java.nio.ByteBuffer;

/** What apply tells emit about a snapshot being checkpointed. */
public sealed interface CheckpointEvent {

    /**
     * The snapshot's header was accepted and its EMA will be checkpointed.
     *
     * @param rewinds the run's rewinds so far: tells the checkpoint's branch
     * @param parent the run this one was forked from, or null
     * @param parentStep the parent's step the fork started from
     */
    record Begin(SnapshotHeader header, long snapshotsAveraged, int rewinds, String parent, long parentStep)
            implements CheckpointEvent {
    }

    /** One EMA entry of one profile after this snapshot's chunk was applied; valid during the call only. */
    record Data(String run, String profile, long step, String tensor, long offset, ByteBuffer ema)
            implements CheckpointEvent {
    }

    /** The snapshot closed: committed (abortReason null) or not. */
    record End(String run, long step, int chunkCount, String abortReason) implements CheckpointEvent {
    }
}
