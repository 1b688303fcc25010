package io.averager.wire;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 that refuses what it cannot represent: Java's lenient encoder turns an unpaired surrogate
 * into '?', and its decoder turns malformed bytes into U+FFFD, so two different inputs could
 * become the same run id, object key or pickled string.
 */
public final class StrictUtf8 {

    private StrictUtf8() {
    }

    /** @throws IllegalArgumentException if {@code s} holds an unpaired surrogate */
    public static byte[] encode(String s) {
        try {
            ByteBuffer b = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(s));
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return bytes;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("not valid Unicode: a string of " + s.length()
                    + " chars holds an unpaired surrogate", e);
        }
    }

    /** The text, or null if the bytes are not valid UTF-8. */
    public static String decodeOrNull(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
