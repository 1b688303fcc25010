package io.averager.topology;

import io.averager.store.Stores;
import io.averager.wire.WireSerializer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.Topology;

/** Builds the service's topology: {@code snapshots → validate → apply → emit → checkpoints}. */
public final class AveragerTopology {

    public static final String SOURCE = "snapshots";
    public static final String VALIDATE = "validate";
    public static final String APPLY = "apply";
    public static final String EMIT = "emit";
    public static final String CHECKPOINTS = "checkpoints";
    public static final String DEAD_LETTERS = "dead-letters";
    public static final String RUN_EVENTS = "run-events";

    private AveragerTopology() {
    }

    public static Topology build(TopologySettings settings) {
        Topology topology = new Topology();
        topology.addSource(SOURCE, new ByteArrayDeserializer(), new ByteArrayDeserializer(), settings.snapshotsTopic());
        topology.addProcessor(VALIDATE, () -> new ValidateProcessor(settings), SOURCE);
        topology.addProcessor(APPLY, () -> new ApplyProcessor(settings), VALIDATE);
        topology.addStateStore(Stores.ema(settings.maxMessageBytes(), settings.changelog()), APPLY);
        // Only the EMA store may go without a changelog: what the others hold is small, or written once a checkpoint.
        topology.addStateStore(Stores.runs(settings.maxMessageBytes()), APPLY);
        topology.addStateStore(Stores.layouts(settings.maxMessageBytes()), APPLY);
        topology.addStateStore(Stores.distances(), APPLY);
        topology.addStateStore(Stores.restorePoints(settings.maxMessageBytes()), APPLY);
        topology.addProcessor(EMIT, () -> new EmitProcessor(settings.profiles(), settings.observer()), APPLY);
        topology.addSink(CHECKPOINTS, settings.checkpointsTopic(), new StringSerializer(), new WireSerializer(), EMIT);
        topology.addSink(DEAD_LETTERS, settings.deadLettersTopic(), new ByteArraySerializer(), new ByteArraySerializer(),
                VALIDATE, APPLY);
        topology.addSink(RUN_EVENTS, settings.runEventsTopic(), new StringSerializer(), new WireSerializer(), APPLY);
        return topology;
    }
}
