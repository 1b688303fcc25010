package io.averager.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.AveragerException;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.RewindAnswer;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** Choosing checkpoints among manifests. */
class CheckpointsTest {

    private static CheckpointManifest manifest(String run, String profile, long step, String uri) {
        return manifest(run, profile, step, uri, "safetensors");
    }

    private static CheckpointManifest manifest(String run, String profile, long step, String uri, String format) {
        return manifest(run, profile, step, uri, format, 0);
    }

    private static CheckpointManifest manifest(String run, String profile, long step, String uri, String format, int rewinds) {
        return new CheckpointManifest(run, profile, step, uri, format, 1L, "00", List.of(), Instant.EPOCH, rewinds);
    }

    private static RewindAnswer rewound(String run, long toStep, int rewinds) {
        return new RewindAnswer(run, "req-" + rewinds, toStep, true, "rewound", rewinds);
    }

    private static final List<CheckpointManifest> MANIFESTS = List.of(
            manifest("b", "ema", 20, "s3://x/b20"),
            manifest("a", "ema", 30, "s3://x/a30"),
            manifest("a", "ema", 10, "s3://x/a10"),
            manifest("a", "slow", 10, "s3://x/a10s"),
            manifest("a", "ema", 10, "s3://x/a10-redo"));

    @Test
    void listingKeepsTheLastManifestOfEachCheckpointInRunProfileStepOrder() {
        assertThat(Checkpoints.list(MANIFESTS, Optional.empty(), Optional.empty()))
                .extracting(CheckpointManifest::getUri)
                .containsExactly("s3://x/a10-redo", "s3://x/a30", "s3://x/a10s", "s3://x/b20");
        assertThat(Checkpoints.list(MANIFESTS, Optional.of("a"), Optional.of("ema")))
                .extracting(CheckpointManifest::getStep).containsExactly(10L, 30L);
    }

    @Test
    void latestIsTheHighestStepAndTheOnlyProfileNeedsNoName() {
        assertThat(Checkpoints.select(new Catalog(MANIFESTS, Rewinds.NONE), "b", Optional.empty(), OptionalLong.empty(), Optional.empty()).getUri()).isEqualTo("s3://x/b20");
        assertThat(Checkpoints.select(new Catalog(MANIFESTS, Rewinds.NONE), "a", Optional.of("ema"), OptionalLong.empty(), Optional.empty()).getStep()).isEqualTo(30);
        assertThat(Checkpoints.select(new Catalog(MANIFESTS, Rewinds.NONE), "a", Optional.of("ema"), OptionalLong.of(10), Optional.empty()).getUri()).isEqualTo("s3://x/a10-redo");
    }

    @Test
    void aStepWithFilesOfSeveralFormatsNeedsTheFormatNamed() {
        List<CheckpointManifest> both = List.of(manifest("a", "ema", 10, "s3://x/a10.safetensors"),
                manifest("a", "ema", 10, "s3://x/a10.pt", "pt"));
        assertThat(Checkpoints.list(both, Optional.empty(), Optional.empty())).hasSize(2);
        assertThat(Checkpoints.select(new Catalog(both, Rewinds.NONE), "a", Optional.empty(), OptionalLong.empty(), Optional.of("pt")).getUri())
                .isEqualTo("s3://x/a10.pt");
        assertThatThrownBy(() -> Checkpoints.select(new Catalog(both, Rewinds.NONE), "a", Optional.empty(), OptionalLong.empty(), Optional.empty()))
                .hasMessageContaining("formats pt, safetensors").hasMessageContaining("--format");
    }

    @Test
    void ambiguousOrMissingChoicesNameWhatExists() {
        assertThatThrownBy(() -> Checkpoints.select(new Catalog(MANIFESTS, Rewinds.NONE), "a", Optional.empty(), OptionalLong.empty(), Optional.empty()))
                .isInstanceOf(AveragerException.class).hasMessageContaining("ema, slow").hasMessageContaining("--profile");
        assertThatThrownBy(() -> Checkpoints.select(new Catalog(MANIFESTS, Rewinds.NONE), "a", Optional.of("ema"), OptionalLong.of(20), Optional.empty()))
                .hasMessageContaining("steps: 10, 30");
        assertThatThrownBy(() -> Checkpoints.select(new Catalog(MANIFESTS, Rewinds.NONE), "a", Optional.of("fast"), OptionalLong.empty(), Optional.empty()))
                .hasMessageContaining("no checkpoint of profile fast");
        assertThatThrownBy(() -> Checkpoints.select(new Catalog(MANIFESTS, Rewinds.NONE), "c", Optional.empty(), OptionalLong.empty(), Optional.empty()))
                .hasMessageContaining("No checkpoint of run c");
    }

    @Test
    void aRewindSupersedesTheCheckpointsAboveItsStepOfTheBranchesBefore() {
        // Branch 0 checkpoints 10, 20, 30; rewound to 20; branch 1 checkpoints 30 again and 40;
        // rewound to 30; branch 2 checkpoints 40 again. A refused rewind changes nothing.
        List<CheckpointManifest> manifests = List.of(
                manifest("a", "ema", 10, "b0-10", "safetensors", 0),
                manifest("a", "ema", 20, "b0-20", "safetensors", 0),
                manifest("a", "ema", 30, "b0-30", "safetensors", 0),
                manifest("a", "ema", 30, "b1-30", "safetensors", 1),
                manifest("a", "ema", 40, "b1-40", "safetensors", 1),
                manifest("a", "ema", 40, "b2-40", "safetensors", 2),
                manifest("b", "ema", 40, "other-run", "safetensors", 0));
        Rewinds rewinds = Rewinds.of(List.of(rewound("a", 20, 1), rewound("a", 30, 2),
                new RewindAnswer("a", "refused", 5L, false, "no restore point", 2)));
        Catalog catalog = new Catalog(manifests, rewinds);

        assertThat(catalog.live()).extracting(CheckpointManifest::getUri)
                .containsExactly("b0-10", "b0-20", "b1-30", "b2-40", "other-run");
        assertThat(rewinds.describe(manifests.get(2))).isEqualTo("superseded (rewind 1 to step 20)");
        assertThat(rewinds.describe(manifests.get(4))).isEqualTo("superseded (rewind 2 to step 30)");
        assertThat(rewinds.describe(manifests.get(3))).isEqualTo("live");
        assertThat(Checkpoints.list(manifests, Optional.of("a"), Optional.empty())).hasSize(6);
        assertThat(Checkpoints.select(catalog, "a", Optional.empty(), OptionalLong.empty(), Optional.empty()).getUri())
                .isEqualTo("b2-40");
        assertThat(Checkpoints.select(catalog, "a", Optional.empty(), OptionalLong.of(30), Optional.empty()).getUri())
                .isEqualTo("b1-30");
    }

    @Test
    void latestAfterARewindIsTheRestorePointAndASupersededStepIsNamedAsSuch() {
        List<CheckpointManifest> manifests = List.of(
                manifest("a", "ema", 24, "b0-24", "safetensors", 0),
                manifest("a", "ema", 30, "b0-30", "safetensors", 0),
                manifest("a", "ema", 36, "b0-36", "safetensors", 0));
        Catalog catalog = new Catalog(manifests, Rewinds.of(List.of(rewound("a", 24, 1))));

        assertThat(Checkpoints.select(catalog, "a", Optional.empty(), OptionalLong.empty(), Optional.empty()).getUri())
                .isEqualTo("b0-24");
        assertThatThrownBy(() -> Checkpoints.select(catalog, "a", Optional.empty(), OptionalLong.of(30), Optional.empty()))
                .hasMessageContaining("no live checkpoint at step 30")
                .hasMessageContaining("superseded (rewind 1 to step 24) (b0-30)")
                .hasMessageContaining("live steps: 24");
        Catalog allAbandoned = new Catalog(manifests.subList(1, 3), Rewinds.of(List.of(rewound("a", 24, 1))));
        assertThatThrownBy(() -> Checkpoints.select(allAbandoned, "a", Optional.empty(), OptionalLong.empty(), Optional.empty()))
                .hasMessageContaining("has no live checkpoint: every one is superseded (rewind 1 to step 24)");
    }
}
