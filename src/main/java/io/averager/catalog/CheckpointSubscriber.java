package io.averager.catalog;

import io.averager.AveragerException;
import io.averager.sink.ObjectStore;
import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.RewindAnswer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Collectors;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the checkpoints of the manifests topic as their manifests commit (read_committed): an
 * evaluation job that scores every new EMA checkpoint, an inference server that swaps in the
 * latest EMA weights. Each {@link #next} returns one checkpoint, of every run or one, of every
 * profile or one, in the order of the topic (a run's checkpoints are in step order).
 *
 * <p>With a consumer group, {@code next} first commits the checkpoint it returned before: the
 * caller has finished with it. A subscriber that restarts in the same group goes on after the
 * last checkpoint it finished, so a crash delivers again at most the one it was handling. A group
 * with nothing committed yet, and a subscriber without a group, start at the first checkpoint of
 * step {@code fromStep} or above if it is given, else at the end of the topic, as of the
 * constructor's return.
 *
 * <p>Each checkpoint says whether it was superseded, as of its delivery, by a rewind of its run
 * on the run-events topic: only a checkpoint delivered from history can be (a newly committed one
 * is on its run's live branch). Used from one thread.
 */
public final class CheckpointSubscriber implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CheckpointSubscriber.class);
    private static final Duration POLL = Duration.ofMillis(200);

    /** A checkpoint and, if a rewind of its run abandoned its branch, that rewind. */
    public record Checkpoint(CheckpointManifest manifest, Optional<RewindAnswer> supersededBy) {

        public String run() {
            return manifest.getRun();
        }

        public String profile() {
            return manifest.getProfile();
        }

        public long step() {
            return manifest.getStep();
        }

        public String uri() {
            return manifest.getUri();
        }

        public boolean superseded() {
            return supersededBy.isPresent();
        }

        /**
         * Fetches the file from {@code store} to {@code target}, verified against the manifest; see
         * {@link Download#fetch}.
         */
        public void download(ObjectStore store, Path target) throws IOException {
            Download.fetch(manifest, store, target);
        }

        /** {@code "live"} or how a rewind superseded it. */
        public String state() {
            return supersededBy.map(a -> "superseded (rewind " + a.getRewinds() + " to step " + a.getToStep() + ")")
                    .orElse("live");
        }
    }

    /** What to follow; {@link #open} starts following. */
    public static final class Options {
        private String manifestsTopic = "checkpoint-manifests";
        private String runEventsTopic = "run-events";
        private Optional<String> run = Optional.empty();
        private Optional<String> profile = Optional.empty();
        private OptionalLong fromStep = OptionalLong.empty();
        private Optional<String> group = Optional.empty();
        private Duration timeout = Duration.ofSeconds(60);

        public Options manifestsTopic(String topic) {
            this.manifestsTopic = topic;
            return this;
        }

        public Options runEventsTopic(String topic) {
            this.runEventsTopic = topic;
            return this;
        }

        /** Only this run's checkpoints. */
        public Options run(String run) {
            this.run = Optional.of(run);
            return this;
        }

        /** Only this profile's checkpoints. */
        public Options profile(String profile) {
            this.profile = Optional.of(profile);
            return this;
        }

        /** Only checkpoints at this step or above; starts from the topic's history, not its end. */
        public Options fromStep(long step) {
            this.fromStep = OptionalLong.of(step);
            return this;
        }

        /** The consumer group whose committed position a restarted subscriber continues from. */
        public Options group(String group) {
            this.group = Optional.of(group);
            return this;
        }

        /** How long opening may take: finding the topics, joining the group. */
        public Options timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /**
         * Starts following.
         *
         * @param clientProperties connection and security settings of a Kafka consumer
         * @throws AveragerException if the manifests topic does not exist, or the group is not joined within the timeout
         */
        public CheckpointSubscriber open(Map<String, Object> clientProperties) {
            return new CheckpointSubscriber(clientProperties, this);
        }
    }

    private final Options options;
    private final KafkaConsumer<String, byte[]> manifests;
    private final KafkaConsumer<String, byte[]> runEvents;
    private final ArrayDeque<ConsumerRecord<String, byte[]>> fetched = new ArrayDeque<>();
    /** Per partition, the offset after the last record finished with: delivered and handled, or skipped. */
    private final Map<TopicPartition, OffsetAndMetadata> finished = new HashMap<>();
    private final List<RewindAnswer> rewinds = new ArrayList<>();
    private List<TopicPartition> runEventPartitions = List.of();
    private ConsumerRecord<String, byte[]> inHand;

    public static Options options() {
        return new Options();
    }

    private CheckpointSubscriber(Map<String, Object> clientProperties, Options options) {
        this.options = options;
        Map<String, Object> props = new HashMap<>(clientProperties);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, options.fromStep.isPresent() ? "earliest" : "latest");
        // Checkpoint manifests are small and rare: a poll hands back a few.
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 100);
        Map<String, Object> events = new HashMap<>(props);
        options.group.ifPresentOrElse(g -> props.put(ConsumerConfig.GROUP_ID_CONFIG, g),
                () -> props.remove(ConsumerConfig.GROUP_ID_CONFIG));
        events.remove(ConsumerConfig.GROUP_ID_CONFIG);
        manifests = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
        runEvents = new KafkaConsumer<>(events, new StringDeserializer(), new ByteArrayDeserializer());
        try {
            List<TopicPartition> partitions = partitions(manifests, options.manifestsTopic);
            if (partitions.isEmpty()) {
                throw new AveragerException("Manifests topic " + options.manifestsTopic + " does not exist on "
                        + clientProperties.get("bootstrap.servers"));
            }
            if (options.group.isPresent()) {
                manifests.subscribe(List.of(options.manifestsTopic), new Rebalance());
                awaitAssignment();
            } else {
                manifests.assign(partitions);
                if (options.fromStep.isPresent()) {
                    manifests.seekToBeginning(partitions);
                } else {
                    manifests.seekToEnd(partitions);
                }
            }
            // Fixes the start now, not at the first poll: what commits after this is delivered.
            manifests.assignment().forEach(manifests::position);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * The next checkpoint, waiting up to {@code timeout} for one to commit; empty if none did.
     * First marks the one returned before as finished (committed, with a group).
     */
    public Optional<Checkpoint> next(Duration timeout) {
        if (inHand != null) {
            finish(inHand);
            inHand = null;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            while (!fetched.isEmpty()) {
                ConsumerRecord<String, byte[]> r = fetched.poll();
                Optional<CheckpointManifest> m = wanted(r);
                if (m.isPresent()) {
                    commit();
                    inHand = r;
                    return Optional.of(new Checkpoint(m.get(), supersededBy(m.get())));
                }
                finish(r);
            }
            commit();
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return Optional.empty();
            }
            manifests.poll(Duration.ofNanos(Math.min(left, POLL.toNanos()))).forEach(fetched::add);
        }
    }

    /** The manifest of {@code r} if it is one this subscriber follows. */
    private Optional<CheckpointManifest> wanted(ConsumerRecord<String, byte[]> r) {
        if (options.run.isPresent() && !options.run.get().equals(r.key())) {
            return Optional.empty();
        }
        CheckpointManifest m;
        try {
            if (!(WireCodec.decode(r.value()) instanceof CheckpointManifest decoded)) {
                return Optional.empty();
            }
            m = decoded;
        } catch (WireException e) {
            log.warn("Skipping record {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
            return Optional.empty();
        }
        boolean matches = options.run.map(m.getRun()::equals).orElse(true)
                && options.profile.map(m.getProfile()::equals).orElse(true)
                && m.getStep() >= options.fromStep.orElse(Long.MIN_VALUE);
        return matches ? Optional.of(m) : Optional.empty();
    }

    private void finish(ConsumerRecord<String, byte[]> r) {
        finished.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
    }

    private void commit() {
        if (options.group.isPresent() && !finished.isEmpty()) {
            manifests.commitSync(finished);
        }
        finished.clear();
    }

    /** The rewind, committed so far, that abandoned {@code m}'s branch. */
    private Optional<RewindAnswer> supersededBy(CheckpointManifest m) {
        if (runEventPartitions.isEmpty()) {
            runEventPartitions = partitions(runEvents, options.runEventsTopic);
            runEvents.assign(runEventPartitions);
            runEvents.seekToBeginning(runEventPartitions);
        }
        if (!runEventPartitions.isEmpty()) {
            Map<TopicPartition, Long> end = runEvents.endOffsets(runEventPartitions, options.timeout);
            long deadline = System.nanoTime() + options.timeout.toNanos();
            while (runEventPartitions.stream().anyMatch(p -> runEvents.position(p) < end.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new AveragerException("Reading topic " + options.runEventsTopic + " took longer than "
                            + options.timeout);
                }
                for (ConsumerRecord<String, byte[]> r : runEvents.poll(POLL)) {
                    decoded(r).filter(RewindAnswer.class::isInstance).map(RewindAnswer.class::cast).ifPresent(rewinds::add);
                }
            }
        }
        return Rewinds.of(rewinds).supersededBy(m);
    }

    private static Optional<SpecificRecordBase> decoded(ConsumerRecord<String, byte[]> r) {
        try {
            return Optional.of(WireCodec.decode(r.value()));
        } catch (WireException e) {
            return Optional.empty();
        }
    }

    private void awaitAssignment() {
        long deadline = System.nanoTime() + options.timeout.toNanos();
        while (manifests.assignment().isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new AveragerException("Joining consumer group " + options.group.orElseThrow() + " on "
                        + options.manifestsTopic + " took longer than " + options.timeout
                        + "; do other members of the group hold every partition?");
            }
            manifests.poll(POLL).forEach(fetched::add);
        }
    }

    private List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, String topic) {
        List<PartitionInfo> infos = consumer.partitionsFor(topic, options.timeout);
        if (infos == null) {
            return List.of();
        }
        return infos.stream().map(i -> new TopicPartition(topic, i.partition())).collect(Collectors.toList());
    }

    /** Closes the consumers. The checkpoint in hand is not committed: a subscriber in its group gets it again. */
    @Override
    public void close() {
        try (manifests; runEvents) {
            if (inHand == null) {
                commit();
            }
        }
    }

    /** Drops what was fetched of partitions taken away, after committing what was finished with them. */
    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            commit();
            fetched.removeIf(r -> partitions.contains(new TopicPartition(r.topic(), r.partition())));
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        }
    }
}
