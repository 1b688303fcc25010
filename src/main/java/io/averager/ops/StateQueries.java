package io.averager.ops;

import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Read-only views of this instance's state stores through Kafka Streams' interactive queries;
 * a store that cannot be queried now (rebalancing, restoring, not running) is a 503. Thread-safe.
 */
final class StateQueries {

    private final KafkaStreams streams;

    StateQueries(KafkaStreams streams) {
        this.streams = streams;
    }

    /** The store's partitions on this instance, active or standby (possibly behind the active copy). */
    <K, V> ReadOnlyKeyValueStore<K, V> allLocalOrStandby(String store) {
        return query(StoreQueryParameters.fromNameAndType(store, QueryableStoreTypes.<K, V>keyValueStore())
                .enableStaleStores(), store);
    }

    /** One partition of the store, active on this instance. */
    <K, V> ReadOnlyKeyValueStore<K, V> local(String store, int partition) {
        return query(StoreQueryParameters.fromNameAndType(store, QueryableStoreTypes.<K, V>keyValueStore())
                .withPartition(partition), store);
    }

    private <K, V> ReadOnlyKeyValueStore<K, V> query(StoreQueryParameters<ReadOnlyKeyValueStore<K, V>> parameters,
                                                     String store) {
        try {
            return streams.store(parameters);
        } catch (InvalidStateStoreException e) {
            throw new Http.Refusal(503, "State store " + store + " cannot be queried now (Kafka Streams is "
                    + streams.state() + "): " + e.getMessage());
        }
    }
}
