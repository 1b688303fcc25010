package io.averager.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.ops.Access.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AccessTest {

    private static final String TEAM_A = "team-a-token-0123456789";
    private static final String PROMETHEUS = "prometheus-token-0123456789";

    @TempDir
    Path dir;

    /** A clock the test moves. */
    private static final class Moving extends Clock {
        Instant now = Instant.parse("2026-12-01T00:00:00Z");

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void tokensInTheClearOrHashedGrantRolesOnRunPrefixes() throws Exception {
        Path file = Files.writeString(dir.resolve("access"), """
                # comments and blank lines are skipped

                token team-a %s read:team-a/ synthesize:team-a/
                token prometheus sha256:%s metrics   # hashed by the operator
                cert  eval-runner read:team-a/
                """.formatted(TEAM_A, Access.sha256(PROMETHEUS)));

        Access access = Access.read(file, new Moving());

        Access.Principal a = access.byToken(TEAM_A);
        assertThat(a.name()).isEqualTo("team-a");
        assertThat(a.may(Role.READ, "team-a/run-1")).isTrue();
        assertThat(a.may(Role.READ, "team-b/run-1")).isFalse();
        assertThat(a.may(Role.SYNTHESIZE, "team-a/x")).isTrue();
        assertThat(a.may(Role.METRICS, null)).isFalse();
        assertThat(a.readable()).containsExactly("team-a/");
        assertThat(access.byToken(PROMETHEUS).may(Role.METRICS, null)).isTrue();
        assertThat(access.byToken("sha256:" + Access.sha256(PROMETHEUS))).as("the hash is not the token").isNull();
        assertThat(access.byCertificate("eval-runner").may(Role.READ, "team-a/r")).isTrue();
        assertThat(access.byToken("guess")).isNull();
    }

    @Test
    void anExpiredEntryIsNoLongerValid() throws Exception {
        Moving clock = new Moving();
        Path file = Files.writeString(dir.resolve("access"),
                "token a " + TEAM_A + " read expires=2026-12-01T00:00:05Z\n");
        Access access = Access.read(file, clock);

        assertThat(access.byToken(TEAM_A)).isNotNull();
        clock.now = clock.now.plusSeconds(5);
        assertThat(access.byToken(TEAM_A)).isNull();
    }

    @Test
    void aChangedFileIsReadAgainAndOneThatNoLongerParsesLeavesTheLastInForce() throws Exception {
        Moving clock = new Moving();
        Path file = Files.writeString(dir.resolve("access"), "token a " + TEAM_A + " read\n");
        Access access = Access.read(file, clock);
        String rotated = "rotated-token-0123456789";

        Files.writeString(file, "token a " + rotated + " read # rotated\n");
        assertThat(access.byToken(TEAM_A)).as("checked at most once a second").isNotNull();
        clock.now = clock.now.plus(Duration.ofMillis(1001));
        assertThat(access.byToken(TEAM_A)).isNull();
        assertThat(access.byToken(rotated)).isNotNull();

        Files.writeString(file, "token a " + rotated + " read write\n");
        clock.now = clock.now.plus(Duration.ofMillis(1001));
        assertThat(access.byToken(rotated)).as("a broken file changes nothing").isNotNull();
    }

    @Test
    void errorsNameTheFileAndLine() throws Exception {
        Path file = dir.resolve("access");
        Files.writeString(file, "token a " + TEAM_A + " read\ntoken b short read\n");
        assertThatThrownBy(() -> Access.read(file, new Moving())).hasMessageContaining(file + " line 2: ")
                .hasMessageContaining("the token of b has 5 characters; give at least 16");
        Files.writeString(file, "token a " + TEAM_A + " write:x\n");
        assertThatThrownBy(() -> Access.read(file, new Moving())).hasMessageContaining("line 1: unknown grant 'write:x'");
        Files.writeString(file, "token a " + TEAM_A + " read\ntoken b " + TEAM_A + " metrics\n");
        assertThatThrownBy(() -> Access.read(file, new Moving())).hasMessageContaining("line 2: the token of b is another entry's too");
        Files.writeString(file, "user a " + TEAM_A + " read\n");
        assertThatThrownBy(() -> Access.read(file, new Moving())).hasMessageContaining("'user' is neither 'token' nor 'cert'");
        Files.writeString(file, "token a " + TEAM_A + " metrics:x\n");
        assertThatThrownBy(() -> Access.read(file, new Moving())).hasMessageContaining("grant metrics takes no run prefix");
    }

    @Test
    void aRedirectGrantServesItsPathForAMinuteAndNothingElse() throws Exception {
        Moving clock = new Moving();
        String peer = "peer-token-0123456789abcdef";
        Access access = Access.read(Files.writeString(dir.resolve("access"), "token a " + TEAM_A + " read\n"), clock);
        Guard signer = new Guard(access, null, peer, clock);
        Guard owner = new Guard(access, null, peer, clock);
        String path = "/runs/team-a%2Fr1/ema";

        String grant = signer.grantFor(path).substring((Guard.GRANT + "=").length());

        assertThat(owner.granted(path, grant, Role.READ).may(Role.READ, "team-a/r1")).isTrue();
        assertThatThrownBy(() -> owner.granted("/runs/team-b%2Fr1/ema", grant, Role.READ))
                .isInstanceOfSatisfying(Http.Refusal.class, r -> assertThat(r.status).isEqualTo(401))
                .hasMessageContaining("not signed for /runs/team-b%2Fr1/ema");
        assertThatThrownBy(() -> new Guard(access, null, "another-peer-token-0123", clock).granted(path, grant, Role.READ))
                .hasMessageContaining("not signed for");
        assertThatThrownBy(() -> owner.granted(path, "12.x", Role.READ)).hasMessageContaining("not signed for");
        clock.now = clock.now.plusSeconds(61);
        assertThatThrownBy(() -> owner.granted(path, grant, Role.READ)).hasMessageContaining("expired");
        assertThat(new Guard(null, null, peer, clock).grantFor(path)).as("an open endpoint needs no grant").isNull();
    }
}
