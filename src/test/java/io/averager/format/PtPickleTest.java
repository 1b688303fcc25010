package io.averager.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class PtPickleTest {

    /** Builds expected pickles: an Integer is one byte, a String its ASCII bytes, a byte[] itself. */
    private static byte[] bytes(Object... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object part : parts) {
            if (part instanceof Integer b) {
                out.write(b);
            } else if (part instanceof String s) {
                out.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
            } else {
                out.writeBytes((byte[]) part);
            }
        }
        return out.toByteArray();
    }

    /** BINUNICODE: 'X', the UTF-8 length as 4 bytes little-endian, the UTF-8 bytes. */
    private static byte[] str(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        return bytes('X' + 0, utf8.length, 0, 0, 0, utf8);
    }

    private static byte[] withStep(byte[] step) {
        return bytes(0x80, 2, '}' + 0, '(' + 0, str("state_dict_ema"),
                "ccollections\nOrderedDict\n", 'q' + 0, 0, ')' + 0, 'R' + 0,
                str("step"), step, str("run"), str("r"), str("profile"), str("p"), 'u' + 0, '.' + 0);
    }

    @Test
    void encodesAOneScalarCheckpointOpcodeByOpcodeAsPythonsPicklerWould() {
        byte[] pickle = PtPickle.checkpoint(List.of(new TensorSpec("n", Dtype.I64, new long[0])), 7, "r", "p");

        assertThat(pickle).isEqualTo(bytes(
                0x80, 2, '}' + 0, '(' + 0,
                str("state_dict_ema"),
                "ccollections\nOrderedDict\n", 'q' + 0, 0, ')' + 0, 'R' + 0,
                str("n"),
                "ctorch._utils\n_rebuild_tensor_v2\n", 'q' + 0, 1,
                '(' + 0, '(' + 0, str("storage"), 'q' + 0, 2,
                "ctorch\nLongStorage\n", 'q' + 0, 3,
                str("0"), str("cpu"), 'q' + 0, 4, 'K' + 0, 1, 't' + 0, 'Q' + 0,
                'K' + 0, 0, ')' + 0, ')' + 0, 0x89,
                'h' + 0, 0, ')' + 0, 'R' + 0,
                't' + 0, 'R' + 0, 's' + 0,
                str("step"), 'K' + 0, 7, str("run"), str("r"), str("profile"), str("p"),
                'u' + 0, '.' + 0));
    }

    @Test
    void reusesGlobalsAndConstantStringsThroughTheMemoForLaterTensors() {
        byte[] pickle = PtPickle.checkpoint(List.of(
                new TensorSpec("a", Dtype.F32, new long[] {2, 3}),
                new TensorSpec("b", Dtype.F32, new long[] {2, 0, 3, 4})), 1, "r", "p");

        byte[] second = bytes(str("b"), 'h' + 0, 1,
                '(' + 0, '(' + 0, 'h' + 0, 2, 'h' + 0, 3, str("1"), 'h' + 0, 4, 'K' + 0, 0, 't' + 0, 'Q' + 0,
                'K' + 0, 0,
                '(' + 0, 'K' + 0, 2, 'K' + 0, 0, 'K' + 0, 3, 'K' + 0, 4, 't' + 0,
                '(' + 0, 'K' + 0, 12, 'K' + 0, 12, 'K' + 0, 4, 'K' + 0, 1, 't' + 0,
                0x89, 'h' + 0, 0, ')' + 0, 'R' + 0, 't' + 0, 'R' + 0, 'u' + 0);
        assertThat(new String(pickle, StandardCharsets.ISO_8859_1))
                .contains(new String(bytes(str("a")), StandardCharsets.ISO_8859_1) + "ctorch._utils")
                .contains("ctorch\nFloatStorage\n")
                .contains(new String(bytes('K' + 0, 2, 'K' + 0, 3, 0x86, 'K' + 0, 3, 'K' + 0, 1, 0x86), StandardCharsets.ISO_8859_1))
                .contains(new String(second, StandardCharsets.ISO_8859_1));
    }

    @Test
    void writesIntegersInTheSmallestFormPythonsPicklerUses() {
        assertThat(PtPickle.checkpoint(List.of(), 255, "r", "p")).isEqualTo(withStep(bytes('K' + 0, 0xff)));
        assertThat(PtPickle.checkpoint(List.of(), 256, "r", "p")).isEqualTo(withStep(bytes('M' + 0, 0, 1)));
        assertThat(PtPickle.checkpoint(List.of(), 65535, "r", "p")).isEqualTo(withStep(bytes('M' + 0, 0xff, 0xff)));
        assertThat(PtPickle.checkpoint(List.of(), 65536, "r", "p")).isEqualTo(withStep(bytes('J' + 0, 0, 0, 1, 0)));
        assertThat(PtPickle.checkpoint(List.of(), -1, "r", "p")).isEqualTo(withStep(bytes('J' + 0, 0xff, 0xff, 0xff, 0xff)));
        assertThat(PtPickle.checkpoint(List.of(), Integer.MAX_VALUE, "r", "p"))
                .isEqualTo(withStep(bytes('J' + 0, 0xff, 0xff, 0xff, 0x7f)));
        assertThat(PtPickle.checkpoint(List.of(), Integer.MIN_VALUE, "r", "p"))
                .isEqualTo(withStep(bytes('J' + 0, 0, 0, 0, 0x80)));
        assertThat(PtPickle.checkpoint(List.of(), 1L << 31, "r", "p"))
                .isEqualTo(withStep(bytes(0x8a, 5, 0, 0, 0, 0x80, 0)));
        assertThat(PtPickle.checkpoint(List.of(), Integer.MIN_VALUE - 1L, "r", "p"))
                .isEqualTo(withStep(bytes(0x8a, 5, 0xff, 0xff, 0xff, 0x7f, 0xff)));
        assertThat(PtPickle.checkpoint(List.of(), Long.MAX_VALUE, "r", "p"))
                .isEqualTo(withStep(bytes(0x8a, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)));
        assertThat(PtPickle.checkpoint(List.of(), Long.MIN_VALUE, "r", "p"))
                .isEqualTo(withStep(bytes(0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80)));
    }

    @Test
    void stridesOfZeroSizeTensorsAreThoseTorchGivesThem() {
        assertThat(PtPickle.contiguousStrides(new long[0])).isEmpty();
        assertThat(PtPickle.contiguousStrides(new long[] {5})).containsExactly(1);
        assertThat(PtPickle.contiguousStrides(new long[] {0})).containsExactly(1);
        assertThat(PtPickle.contiguousStrides(new long[] {2, 0, 3})).containsExactly(3, 3, 1);
        assertThat(PtPickle.contiguousStrides(new long[] {4, 3, 2})).containsExactly(6, 2, 1);
    }

    @Test
    void namesEachDtypeByTheTypedStorageClassTorchPicklesItAs() {
        assertThat(PtPickle.storageType(Dtype.F32)).isEqualTo("FloatStorage");
        assertThat(PtPickle.storageType(Dtype.F64)).isEqualTo("DoubleStorage");
        assertThat(PtPickle.storageType(Dtype.BF16)).isEqualTo("BFloat16Storage");
        assertThat(PtPickle.storageType(Dtype.I8)).isEqualTo("CharStorage");
        assertThat(PtPickle.storageType(Dtype.U8)).isEqualTo("ByteStorage");
        assertThat(PtPickle.storageType(Dtype.BOOL)).isEqualTo("BoolStorage");
    }

    @Test
    void countsStringLengthsInUtf8Bytes() {
        byte[] pickle = PtPickle.checkpoint(List.of(), 1, "rün", "p");

        assertThat(new String(pickle, StandardCharsets.ISO_8859_1))
                .contains(new String(str("rün"), StandardCharsets.ISO_8859_1));
        assertThat(str("rün")[1]).isEqualTo((byte) 4);
    }

    @Test
    void refusesARunIdWithAnUnpairedSurrogate() {
        assertThatThrownBy(() -> PtPickle.checkpoint(List.of(), 1, "run\uD800", "p"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unpaired surrogate");
    }
}
