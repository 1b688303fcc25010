package io.averager.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.processor.TaskId;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The EMA store on a real RocksDB with the service's settings: a chunk-sized entry goes to a blob
 * file, reads back whole, and when a byte of the blob file rots on disk the read, which skips
 * RocksDB's checksum, returns the bytes and the entry's own CRC rejects them.
 */
class EmaStoreTest {

    private static final Bytes KEY = EmaKey.of("run-1", "ema", "layer.weight", 0);
    private static final int FLOATS = 256 << 10;

    @TempDir
    Path dir;

    @Test
    void chunkSizedEntriesGoToBlobFilesAndReadBackWhole() throws IOException {
        try (Opened store = open()) {
            store.kv.put(KEY, entry(0.25f).bytes());
            store.kv.commit(Map.of());
        }
        assertThat(blobFiles()).as("blob files of the EMA store").hasSize(1);

        try (Opened store = open()) {
            EmaEntry read = EmaEntry.wrap(store.kv.get(KEY));
            assertThat(read.lastStep()).isEqualTo(300);
            assertThat(read.dataBytes()).isEqualTo(4 * FLOATS);
            for (int i = 0; i < FLOATS; i++) {
                assertThat(read.data().getFloat(4 * i)).isEqualTo(0.25f * i);
            }
        }
    }

    @Test
    void aRottenBlobIsReadAndRejectedByTheEntrysCrc() throws IOException {
        try (Opened store = open()) {
            store.kv.put(KEY, entry(1f).bytes());
            store.kv.commit(Map.of());
        }
        Path blob = blobFiles().get(0);
        try (RandomAccessFile file = new RandomAccessFile(blob.toFile(), "rw")) {
            long middle = file.length() / 2;
            file.seek(middle);
            int b = file.read();
            file.seek(middle);
            file.write(b ^ 0x10);
        }

        try (Opened store = open()) {
            byte[] stored = store.kv.get(KEY);
            assertThat(stored).as("the rotten value, read without RocksDB's checksum").isNotNull();
            assertThatThrownBy(() -> EmaEntry.wrap(stored))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("fails its CRC32C")
                    .hasMessageContaining("corrupted");
        }
    }

    /** 1 MiB of float32 data, element i holding {@code scale * i}, at step 300. */
    private static EmaEntry entry(float scale) {
        EmaEntry entry = EmaEntry.allocate(4 * FLOATS);
        for (int i = 0; i < FLOATS; i++) {
            entry.data().putFloat(4 * i, scale * i);
        }
        return entry.stamp(300, 3, 0);
    }

    private List<Path> blobFiles() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".blob")).toList();
        }
    }

    private Opened open() {
        Properties config = new Properties();
        config.put(StreamsConfig.APPLICATION_ID_CONFIG, "ema-store-test");
        config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        config.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, EmaRocksDbConfig.class);
        StateStoreContext context = new MockProcessorContext<>(config, new TaskId(0, 0), dir.toFile())
                .getStateStoreContext();
        @SuppressWarnings("resource")
        KeyValueStore<Bytes, byte[]> kv = EmaStore.supplier(Stores.EMA).get();
        kv.init(context, kv);
        return new Opened(kv);
    }

    private record Opened(KeyValueStore<Bytes, byte[]> kv) implements AutoCloseable {
        @Override
        public void close() {
            kv.close();
        }
    }
}
