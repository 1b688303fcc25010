package io.averager.store;

import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * Names and builders of the service's persistent, changelog-backed state stores. The EMA store
 * alone may be kept on local disk only ({@code averager.state.changelog=false}).
 */
public final class Stores {

    /** EMA entries: {@link EmaKey} to {@link EmaEntry} bytes. */
    public static final String EMA = "ema";
    /** Where each run stands: run id to an encoded {@code RunProgress}, written with every record. See {@link RunStore}. */
    public static final String RUNS = "runs";
    /** Each run's tensor layout: run id to an encoded {@code RunLayout}, written when it changes. See {@link RunStore}. */
    public static final String LAYOUTS = "layouts";
    /** Distance of the EMA from the raw weights: {@link DistanceHistory} and {@link PendingDistances} bytes under their keys. */
    public static final String DISTANCES = "distances";
    /** Copies of EMA entries at checkpointed steps, to rewind a run to. See {@link RestorePoints}. */
    public static final String RESTORE_POINTS = "restore-points";
    /** Every store's name: Kafka Streams names their changelog topics {@code <application.id>-<name>-changelog}. */
    public static final List<String> ALL = List.of(EMA, RUNS, LAYOUTS, DISTANCES, RESTORE_POINTS);

    private Stores() {
    }

    /**
     * @param maxMessageBytes the largest value the store may hold, applied to its changelog topic
     * @param changelog back the store with a changelog topic; false keeps it on local disk only
     */
    public static StoreBuilder<KeyValueStore<Bytes, byte[]>> ema(int maxMessageBytes, boolean changelog) {
        return logged(org.apache.kafka.streams.state.Stores.keyValueStoreBuilder(
                EmaStore.supplier(EMA), Serdes.Bytes(), Serdes.ByteArray()),
                changelog, Map.of("max.message.bytes", Integer.toString(maxMessageBytes)));
    }

    /** Built like the EMA store, as its values are EMA entries too, but always with a changelog: written once a checkpoint. */
    public static StoreBuilder<KeyValueStore<Bytes, byte[]>> restorePoints(int maxMessageBytes) {
        return logged(org.apache.kafka.streams.state.Stores.keyValueStoreBuilder(
                EmaStore.supplier(RESTORE_POINTS), Serdes.Bytes(), Serdes.ByteArray()),
                true, Map.of("max.message.bytes", Integer.toString(maxMessageBytes)));
    }

    public static StoreBuilder<KeyValueStore<String, byte[]>> runs(int maxMessageBytes) {
        return logged(org.apache.kafka.streams.state.Stores.keyValueStoreBuilder(
                org.apache.kafka.streams.state.Stores.persistentKeyValueStore(RUNS), Serdes.String(), Serdes.ByteArray()),
                true, Map.of("max.message.bytes", Integer.toString(maxMessageBytes)));
    }

    public static StoreBuilder<KeyValueStore<String, byte[]>> layouts(int maxMessageBytes) {
        return logged(org.apache.kafka.streams.state.Stores.keyValueStoreBuilder(
                org.apache.kafka.streams.state.Stores.persistentKeyValueStore(LAYOUTS), Serdes.String(), Serdes.ByteArray()),
                true, Map.of("max.message.bytes", Integer.toString(maxMessageBytes)));
    }

    public static StoreBuilder<KeyValueStore<String, byte[]>> distances() {
        return logged(org.apache.kafka.streams.state.Stores.keyValueStoreBuilder(
                org.apache.kafka.streams.state.Stores.persistentKeyValueStore(DISTANCES), Serdes.String(), Serdes.ByteArray()),
                true, Map.of());
    }

    private static <K> StoreBuilder<KeyValueStore<K, byte[]>> logged(StoreBuilder<KeyValueStore<K, byte[]>> store,
                                                                     boolean changelog, Map<String, String> topicConfig) {
        return (changelog ? store.withLoggingEnabled(topicConfig) : store.withLoggingDisabled()).withCachingDisabled();
    }
}
