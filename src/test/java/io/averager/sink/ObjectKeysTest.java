package io.averager.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ObjectKeysTest {

    @Test
    void escapesTheSlash() {
        assertThat(ObjectKeys.segment("team/run-1")).isEqualTo("team%2Frun-1");
    }

    @Test
    void escapesTheDotAndDotDotSegments() {
        assertThat(ObjectKeys.segment(".")).isEqualTo("%2E");
        assertThat(ObjectKeys.segment("..")).isEqualTo("%2E.");
        assertThat(ObjectKeys.segment(".hidden")).isEqualTo("%2Ehidden");
    }

    @Test
    void keepsDotsInsideAName() {
        assertThat(ObjectKeys.segment("resnet50.v2..b")).isEqualTo("resnet50.v2..b");
    }

    @Test
    void escapesNulNewlineAndOtherControlBytes() {
        assertThat(ObjectKeys.segment("a\0b")).isEqualTo("a%00b");
        assertThat(ObjectKeys.segment("a\nb\r\t")).isEqualTo("a%0Ab%0D%09");
    }

    @Test
    void escapesNonAsciiAsItsUtf8Bytes() {
        assertThat(ObjectKeys.segment("é")).isEqualTo("%C3%A9");
        assertThat(ObjectKeys.segment("运行")).isEqualTo("%E8%BF%90%E8%A1%8C");
        assertThat(ObjectKeys.segment("\uD83D\uDE80")).isEqualTo("%F0%9F%9A%80");
    }

    @Test
    void escapesThePercentSignSoEscapesCannotBeForged() {
        assertThat(ObjectKeys.segment("a%2Fb")).isEqualTo("a%252Fb");
        assertThat(ObjectKeys.segment("a%2Fb")).isNotEqualTo(ObjectKeys.segment("a/b"));
    }

    @Test
    void keepsLettersDigitsDashAndUnderscore() {
        assertThat(ObjectKeys.segment("Run_2024-01-01_abcXYZ09")).isEqualTo("Run_2024-01-01_abcXYZ09");
    }

    @Test
    void rejectsTheEmptyString() {
        assertThatThrownBy(() -> ObjectKeys.segment("")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void distinctInputsGiveDistinctSafeSegments() {
        List<String> tricky = List.of("a/b", "a%2Fb", "a_2Fb", ".", "..", "%2E", "%2E.", "a.", ".a", "a\0", "a",
                "A", "a\n", "a%0A", "é", "e\u0301", "%C3%A9", "a b", "a+b", "a%20b", "~", "\\", "a\\b");
        Map<String, String> seen = new HashMap<>();
        Set<String> inputs = new HashSet<>(tricky);
        for (String s : tricky) {
            assertSafeAndNew(s, seen);
        }
        Random random = new Random(42);
        String alphabet = "ab./%\0\n é-_运\uD83D\uDE80";
        for (int n = 0; n < 20_000; n++) {
            StringBuilder s = new StringBuilder();
            int length = 1 + random.nextInt(6);
            while (s.length() < length) {
                int i = random.nextInt(alphabet.length());
                s.append(Character.isHighSurrogate(alphabet.charAt(i)) ? alphabet.substring(i, i + 2)
                        : Character.isLowSurrogate(alphabet.charAt(i)) ? "x" : String.valueOf(alphabet.charAt(i)));
            }
            if (inputs.add(s.toString())) {
                assertSafeAndNew(s.toString(), seen);
            }
        }
    }

    @Test
    void rejectsAnUnpairedSurrogateInsteadOfEncodingItAsAQuestionMark() {
        // Java's own UTF-8 encoder would give "a?", the segment of "a?": two runs, one key.
        for (String unpaired : List.of("a\uD800", "\uDC00a", "a\uDE80\uD83Db", "x".repeat(300) + "\uD800")) {
            assertThatThrownBy(() -> ObjectKeys.segment(unpaired)).as("segment of %s", unpaired.codePoints().boxed().toList())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
        }
        assertThatThrownBy(() -> ObjectKeys.checkpoint("run\uD800", "ema", 1, 0, "safetensors"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
    }

    @Test
    void capsALongSegmentWithAReadablePrefixAndAHash() {
        String longRun = "run-" + "x".repeat(300);

        String segment = ObjectKeys.segment(longRun);

        assertThat(segment).hasSizeLessThanOrEqualTo(ObjectKeys.MAX_SEGMENT).startsWith("run-xxx").contains("~");
        assertThat(segment).isEqualTo(ObjectKeys.segment(longRun));
        assertThat(ObjectKeys.segment("x".repeat(ObjectKeys.MAX_SEGMENT))).isEqualTo("x".repeat(ObjectKeys.MAX_SEGMENT));
    }

    @Test
    void longSegmentsThatShareTheirPrefixStayDistinct() {
        String a = "é".repeat(200) + "a";
        String b = "é".repeat(200) + "b";
        String c = "é".repeat(200) + "%61";

        assertThat(List.of(ObjectKeys.segment(a), ObjectKeys.segment(b), ObjectKeys.segment(c))).doesNotHaveDuplicates()
                .allSatisfy(s -> assertThat(s).hasSizeLessThanOrEqualTo(ObjectKeys.MAX_SEGMENT)
                        .matches("[A-Za-z0-9_%-][A-Za-z0-9._%~-]*"));
    }

    @Test
    void checkpointKeyPlacesEscapedRunAndProfileUnderRuns() {
        assertThat(ObjectKeys.checkpoint("team/run-1", "ema", 1200, 0, "safetensors"))
                .isEqualTo("runs/team%2Frun-1/ema/step-1200.safetensors");
        assertThat(ObjectKeys.checkpoint("..", ".", 0, 0, "safetensors"))
                .isEqualTo("runs/%2E./%2E/step-0.safetensors");
    }

    @Test
    void aCheckpointOfARewoundRunNamesItsRewindsSoTheAbandonedFileOfTheStepStays() {
        assertThat(ObjectKeys.checkpoint("run-1", "ema", 30, 1, "safetensors"))
                .isEqualTo("runs/run-1/ema/step-30.rewind-1.safetensors")
                .isNotEqualTo(ObjectKeys.checkpoint("run-1", "ema", 30, 0, "safetensors"));
        assertThat(ObjectKeys.checkpoint("run-1", "ema", 30, 12, "pt")).isEqualTo("runs/run-1/ema/step-30.rewind-12.pt");
    }

    private static void assertSafeAndNew(String s, Map<String, String> seen) {
        String segment = ObjectKeys.segment(s);
        assertThat(segment).as("segment of %s", s)
                .matches("[A-Za-z0-9_%-][A-Za-z0-9._%-]*")
                .isNotEqualTo(".")
                .isNotEqualTo("..");
        String earlier = seen.put(segment, s);
        assertThat(earlier).as("input giving the same segment as %s", s).isNull();
    }
}
