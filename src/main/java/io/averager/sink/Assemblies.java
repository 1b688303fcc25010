package io.averager.sink;

import io.averager.wire.avro.CheckpointHeader;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The checkpoints the sink is assembling, at most one per (run, profile), each with where its
 * header lies: the sink must not commit offsets past the header of a checkpoint still open. Spool
 * files live in one directory. Not thread-safe.
 */
final class Assemblies {

    private static final Logger log = LoggerFactory.getLogger(Assemblies.class);
    static final String PART_SUFFIX = ".safetensors.part";

    private record Open(CheckpointAssembly assembly, TopicPartition partition) {
    }

    private final Path spoolDir;
    private final Map<String, Open> open = new HashMap<>();

    Assemblies(Path spoolDir) {
        this.spoolDir = spoolDir;
    }

    /**
     * Creates the spool directory and deletes the partial files of a sink that stopped
     * mid-checkpoint (killed, or its machine lost): those checkpoints are read again from their
     * headers.
     */
    void prepare() throws IOException {
        Files.createDirectories(spoolDir);
        try (DirectoryStream<Path> parts = Files.newDirectoryStream(spoolDir,
                "*{" + PART_SUFFIX + "," + CheckpointFormats.PT_PART_SUFFIX + "}")) {
            for (Path part : parts) {
                log.info("Deleting {}, left by a sink that stopped mid-checkpoint", part);
                Files.deleteIfExists(part);
            }
        }
    }

    /** Starts the checkpoint a header opens, dropping an unfinished one of the same run and profile. */
    void begin(CheckpointHeader h, TopicPartition partition, long offset) throws IOException {
        drop(h.getRun(), h.getProfile());
        Path file = spoolDir.resolve(UUID.randomUUID() + PART_SUFFIX);
        open.put(id(h.getRun(), h.getProfile()), new Open(new CheckpointAssembly(h, offset, file), partition));
    }

    /** The open checkpoint of the run and profile at {@code step}, or null. */
    CheckpointAssembly get(String run, String profile, long step) {
        Open o = open.get(id(run, profile));
        return o == null || o.assembly().header().getStep() != step ? null : o.assembly();
    }

    /** Forgets a checkpoint once finished; returns the partition of its header. */
    TopicPartition remove(String run, String profile) {
        return open.remove(id(run, profile)).partition();
    }

    /** Drops an unfinished checkpoint and its partial file. */
    void drop(String run, String profile) {
        Open o = open.remove(id(run, profile));
        if (o != null) {
            o.assembly().close();
        }
    }

    /** Drops the checkpoints whose headers came from these partitions (revoked in a rebalance). */
    void dropPartitions(Collection<TopicPartition> partitions) {
        List<String> drop = new ArrayList<>();
        open.forEach((id, o) -> {
            if (partitions.contains(o.partition())) {
                drop.add(id);
            }
        });
        drop.forEach(id -> open.remove(id).assembly().close());
    }

    void dropAll() {
        open.values().forEach(o -> o.assembly().close());
        open.clear();
    }

    /** The offset to commit on the partition: {@code next}, or the oldest open header's there. */
    long safeOffset(TopicPartition partition, long next) {
        long offset = next;
        for (Open o : open.values()) {
            if (partition.equals(o.partition())) {
                offset = Math.min(offset, o.assembly().headerOffset());
            }
        }
        return offset;
    }

    private static String id(String run, String profile) {
        return run.length() + ":" + run + "/" + profile;
    }
}
