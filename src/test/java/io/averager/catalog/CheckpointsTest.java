package io.averager.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.AveragerException;
import io.averager.wire.avro.CheckpointManifest;
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
        return new CheckpointManifest(run, profile, step, uri, format, 1L, "00", List.of(), Instant.EPOCH);
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
        assertThat(Checkpoints.select(MANIFESTS, "b", Optional.empty(), OptionalLong.empty(), Optional.empty()).getUri()).isEqualTo("s3://x/b20");
        assertThat(Checkpoints.select(MANIFESTS, "a", Optional.of("ema"), OptionalLong.empty(), Optional.empty()).getStep()).isEqualTo(30);
        assertThat(Checkpoints.select(MANIFESTS, "a", Optional.of("ema"), OptionalLong.of(10), Optional.empty()).getUri()).isEqualTo("s3://x/a10-redo");
    }

    @Test
    void aStepWithFilesOfSeveralFormatsNeedsTheFormatNamed() {
        List<CheckpointManifest> both = List.of(manifest("a", "ema", 10, "s3://x/a10.safetensors"),
                manifest("a", "ema", 10, "s3://x/a10.pt", "pt"));
        assertThat(Checkpoints.list(both, Optional.empty(), Optional.empty())).hasSize(2);
        assertThat(Checkpoints.select(both, "a", Optional.empty(), OptionalLong.empty(), Optional.of("pt")).getUri())
                .isEqualTo("s3://x/a10.pt");
        assertThatThrownBy(() -> Checkpoints.select(both, "a", Optional.empty(), OptionalLong.empty(), Optional.empty()))
                .hasMessageContaining("formats pt, safetensors").hasMessageContaining("--format");
    }

    @Test
    void ambiguousOrMissingChoicesNameWhatExists() {
        assertThatThrownBy(() -> Checkpoints.select(MANIFESTS, "a", Optional.empty(), OptionalLong.empty(), Optional.empty()))
                .isInstanceOf(AveragerException.class).hasMessageContaining("ema, slow").hasMessageContaining("--profile");
        assertThatThrownBy(() -> Checkpoints.select(MANIFESTS, "a", Optional.of("ema"), OptionalLong.of(20), Optional.empty()))
                .hasMessageContaining("steps: 10, 30");
        assertThatThrownBy(() -> Checkpoints.select(MANIFESTS, "a", Optional.of("fast"), OptionalLong.empty(), Optional.empty()))
                .hasMessageContaining("no checkpoint of profile fast");
        assertThatThrownBy(() -> Checkpoints.select(MANIFESTS, "c", Optional.empty(), OptionalLong.empty(), Optional.empty()))
                .hasMessageContaining("No checkpoint of run c");
    }
}
