package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.format.SafetensorsReader;
import io.averager.it.HostileCorpus.Case;
import io.averager.it.HostileCorpus.Raw;
import io.averager.publish.SnapshotPublisher;
import io.averager.sink.ObjectKeys;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The service against the hostile and broken records of {@link HostileCorpus}, sent through the
 * real broker by a plain (non-transactional) producer between the snapshots of a clean run. Every
 * rejected record comes out on the dead-letter topic (read read_committed) with a reason naming
 * its run, step and tensor; run ids that look like paths are processed and stored escaped inside
 * the checkpoint directory; the service keeps running; and the clean run's checkpoint file is
 * bitwise the one a second service that saw no hostile input writes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class HostileInputTest {

    private static final String CLEAN_RUN = HostileCorpus.CLEAN_RUN;
    private static final long[] CLEAN_STEPS = {10, 20, 30};
    private static final long LAST_CLEAN_STEP = CLEAN_STEPS[CLEAN_STEPS.length - 1];
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    @TempDir
    static Path dir;

    private final List<Case> corpus = HostileCorpus.cases();
    private Path hostileDir;
    private Path store;
    private List<ConsumerRecord<byte[], byte[]>> deadLetters;
    private List<CheckpointManifest> manifests;
    private List<CheckpointCommit> checkpointCommits;
    private KafkaStreams.State stateAfterwards;
    private Throwable failure;
    private byte[] cleanCheckpointAmidHostileInput;
    private byte[] cleanCheckpointAlone;

    @BeforeAll
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void sendTheCorpusBetweenTheSnapshotsOfACleanRunThenTheCleanRunAlone() throws Exception {
        hostileDir = dir.resolve("hostile");
        store = hostileDir.resolve("checkpoints").toAbsolutePath().normalize();
        try (ServiceUnderTest service = configured(new ServiceUnderTest(hostileDir)).start();
             SnapshotPublisher publisher = publisher(service);
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(client(), new ByteArraySerializer(),
                     new ByteArraySerializer());
             CommittedRecords deadLetterTopic = watch(service, AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG);
             CommittedRecords manifestTopic = watch(service, AveragerConfig.TOPIC_MANIFESTS_CONFIG);
             CommittedRecords checkpointTopic = watch(service, AveragerConfig.TOPIC_CHECKPOINTS_CONFIG)) {
            int half = corpus.size() / 2;
            publishClean(publisher, 0);
            send(producer, service.snapshotsTopic(), corpus.subList(0, half));
            publishClean(publisher, 1);
            send(producer, service.snapshotsTopic(), corpus.subList(half, corpus.size()));
            publishClean(publisher, 2);

            manifests = decoded(manifestTopic.awaitUntil(this::everyCheckpointStored, TIMEOUT, () -> state(service)),
                    CheckpointManifest.class);
            deadLetters = deadLetterTopic.awaitUntil(this::everyCaseDeadLettered, TIMEOUT, () -> state(service));
            checkpointCommits = decoded(checkpointTopic.awaitUntil(this::everyDueCheckpointAborted, TIMEOUT,
                    () -> state(service)), CheckpointCommit.class);
            stateAfterwards = service.service().state();
            failure = service.service().failure().getNow(null);
            cleanCheckpointAmidHostileInput = Files.readAllBytes(file(manifest(CLEAN_RUN, LAST_CLEAN_STEP)));
        }
        try (ServiceUnderTest quiet = configured(new ServiceUnderTest(dir.resolve("quiet"))).start();
             SnapshotPublisher publisher = publisher(quiet)) {
            for (int i = 0; i < CLEAN_STEPS.length; i++) {
                publishClean(publisher, i);
            }
            CheckpointManifest alone = quiet.awaitCheckpoints(CLEAN_RUN, LAST_CLEAN_STEP, List.of("ema"), TIMEOUT).get("ema");
            cleanCheckpointAlone = Files.readAllBytes(file(alone));
        }
    }

    @Test
    void everyRejectedRecordIsDeadLetteredWithAReasonNamingItsRunStepAndTensor() {
        List<Case> rejected = corpus.stream().filter(c -> !c.stored()).toList();
        assertThat(rejected).hasSizeGreaterThanOrEqualTo(25);
        SoftAssertions softly = new SoftAssertions();
        for (Case c : rejected) {
            List<String> reasons = deadLettersOf(c.name()).stream().map(HostileInputTest::reason).toList();
            softly.assertThat(reasons).as("dead letters of case %s", c.name()).hasSameSizeAs(c.reasons());
            for (int i = 0; i < Math.min(reasons.size(), c.reasons().size()); i++) {
                softly.assertThat(reasons.get(i)).as("dead letter %d of case %s", i, c.name())
                        .contains(c.reasons().get(i));
            }
        }
        softly.assertAll();
    }

    @Test
    void deadLettersCarryTheRecordsAsTheyArrived() {
        Case keyless = corpus.stream().filter(c -> c.name().equals("null-key")).findFirst().orElseThrow();
        Case notUtf8 = corpus.stream().filter(c -> c.name().equals("non-utf8-key")).findFirst().orElseThrow();

        assertThat(deadLettersOf(keyless.name())).singleElement().satisfies(d -> {
            assertThat(d.key()).isNull();
            assertThat(d.value()).isEqualTo(keyless.records().get(0).value());
        });
        assertThat(deadLettersOf(notUtf8.name())).singleElement()
                .satisfies(d -> assertThat(d.key()).isEqualTo(notUtf8.records().get(0).key()));
        assertThat(deadLetters).allSatisfy(d -> assertThat(d.headers().lastHeader("averager.source")).isNotNull());
    }

    @Test
    void nothingButTheRejectedCasesIsDeadLettered() {
        List<String> expectedCases = corpus.stream().filter(c -> !c.stored()).map(Case::name).toList();

        assertThat(deadLetters).extracting(HostileInputTest::caseOf).allMatch(expectedCases::contains);
    }

    @Test
    void snapshotsWithNonFiniteValuesAbortTheirCheckpoint() {
        List<Case> aborting = corpus.stream().filter(Case::abortsCheckpoint).toList();
        assertThat(aborting).hasSize(4);
        for (Case c : aborting) {
            assertThat(checkpointCommits).filteredOn(m -> m.getRun().equals(c.run())).singleElement()
                    .satisfies(m -> assertThat(m.getAbortReason()).as(c.name()).contains("not averaged whole", "holds"));
            assertThat(manifests).noneMatch(m -> m.getRun().equals(c.run()));
        }
    }

    @Test
    void runIdsThatLookLikePathsAreStoredEscapedInsideTheCheckpointDirectory() throws Exception {
        List<Case> stored = corpus.stream().filter(Case::stored).toList();
        assertThat(stored).extracting(Case::run).anyMatch(r -> r.contains("../")).anyMatch(r -> r.contains("\u0000"))
                .anyMatch(r -> r.contains("\n"));
        for (Case c : stored) {
            Path file = file(manifest(c.run(), c.storedStep()));
            assertThat(file).as(c.name())
                    .isEqualTo(store.resolve(ObjectKeys.checkpoint(c.run(), "ema", c.storedStep(), 0, "safetensors")))
                    .startsWith(store.resolve("runs"))
                    .isRegularFile();
            assertThat(store.resolve("runs").relativize(file).getNameCount()).as(c.name()).isEqualTo(3);
            assertThat(file.getParent().getParent().getFileName().toString()).as(c.name())
                    .isEqualTo(ObjectKeys.segment(c.run()))
                    .doesNotContain("/", "\u0000", "\n", "\r")
                    .doesNotStartWith(".");
            try (SafetensorsReader r = SafetensorsReader.open(file)) {
                assertThat(r.metadata()).as(c.name()).containsEntry("run", c.run());
            }
        }
        try (Stream<Path> files = Files.walk(hostileDir)) {
            assertThat(files.filter(f -> f.toString().endsWith(".safetensors")))
                    .as("checkpoint files of the stored runs and the clean run, and nothing else")
                    .hasSize(stored.size() + 1)
                    .allMatch(f -> f.startsWith(store.resolve("runs")));
        }
        assertThat(hostileDir.resolve("escaped-" + ProcessHandle.current().pid())).doesNotExist();
    }

    @Test
    void theServiceKeepsRunning() {
        assertThat(failure).isNull();
        assertThat(stateAfterwards).isEqualTo(KafkaStreams.State.RUNNING);
    }

    @Test
    void theCleanRunsCheckpointIsBitwiseTheOneOfAServiceThatSawNoHostileInput() {
        assertThat(cleanCheckpointAmidHostileInput).isNotEmpty().isEqualTo(cleanCheckpointAlone);
    }

    private static ServiceUnderTest configured(ServiceUnderTest service) {
        service.settings.put("averager.profile.ema.decay", "0.9");
        service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "0");
        return service;
    }

    private static Map<String, Object> client() {
        return Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
    }

    private static SnapshotPublisher publisher(ServiceUnderTest service) {
        return new SnapshotPublisher(new HashMap<>(client()), service.snapshotsTopic(), 1024);
    }

    private static CommittedRecords watch(ServiceUnderTest service, String topicSetting) throws InterruptedException {
        return new CommittedRecords(client(), service.settings.get(topicSetting));
    }

    private static void publishClean(SnapshotPublisher publisher, int i) throws Exception {
        long step = CLEAN_STEPS[i];
        publisher.publish(CLEAN_RUN, step, SnapshotMode.UPDATE, step == LAST_CLEAN_STEP, Map.of("arch", "test-model"),
                TestModel.sources(TestModel.weights(step)));
    }

    /** Sends every record of the cases, each tagged with its case's name. */
    private static void send(KafkaProducer<byte[], byte[]> producer, String topic, List<Case> cases) {
        for (Case c : cases) {
            for (Raw r : c.records()) {
                RecordHeaders headers = new RecordHeaders();
                headers.add(HostileCorpus.CASE_HEADER, c.name().getBytes(StandardCharsets.UTF_8));
                producer.send(new ProducerRecord<>(topic, null, r.key(), r.value(), headers));
            }
        }
        producer.flush();
    }

    private boolean everyCheckpointStored(List<ConsumerRecord<byte[], byte[]>> records) {
        List<CheckpointManifest> stored = decoded(records, CheckpointManifest.class);
        return stored.stream().anyMatch(m -> m.getRun().equals(CLEAN_RUN) && m.getStep() == LAST_CLEAN_STEP)
                && corpus.stream().filter(Case::stored).allMatch(c -> stored.stream().anyMatch(m -> m.getRun().equals(c.run())));
    }

    private boolean everyCaseDeadLettered(List<ConsumerRecord<byte[], byte[]>> records) {
        return corpus.stream().allMatch(c -> records.stream().filter(r -> c.name().equals(caseOf(r))).count()
                >= c.reasons().size());
    }

    private boolean everyDueCheckpointAborted(List<ConsumerRecord<byte[], byte[]>> records) {
        List<CheckpointCommit> commits = decoded(records, CheckpointCommit.class);
        return corpus.stream().filter(Case::abortsCheckpoint)
                .allMatch(c -> commits.stream().anyMatch(m -> m.getRun().equals(c.run()) && m.getAbortReason() != null));
    }

    private List<ConsumerRecord<byte[], byte[]>> deadLettersOf(String caseName) {
        return deadLetters.stream().filter(r -> caseName.equals(caseOf(r))).toList();
    }

    private CheckpointManifest manifest(String run, long step) {
        return manifests.stream().filter(m -> m.getRun().equals(run) && m.getStep() == step).findFirst()
                .orElseThrow(() -> new AssertionError("no manifest of run " + run + " step " + step));
    }

    private static <T extends SpecificRecordBase> List<T> decoded(List<ConsumerRecord<byte[], byte[]>> records,
                                                                  Class<T> type) {
        return records.stream().map(r -> WireCodec.decode(r.value())).filter(type::isInstance).map(type::cast).toList();
    }

    private static Path file(CheckpointManifest m) {
        return Path.of(URI.create(m.getUri()));
    }

    private static String caseOf(ConsumerRecord<byte[], byte[]> record) {
        Header h = record.headers().lastHeader(HostileCorpus.CASE_HEADER);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static String reason(ConsumerRecord<byte[], byte[]> record) {
        Header h = record.headers().lastHeader("averager.error");
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static String state(ServiceUnderTest service) {
        return "service " + service.service().state()
                + (service.service().failure().isDone() ? ", failed: " + service.service().failure().getNow(null) : "");
    }
}
