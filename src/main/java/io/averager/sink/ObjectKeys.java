package io.averager.sink;

import io.averager.wire.StrictUtf8;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Object keys of checkpoint files: {@code runs/RUN/PROFILE/step-STEP.safetensors}, with run and
 * profile escaped so that no run id can leave its prefix or collide with another run's. After a
 * run's first rewind its checkpoints are {@code step-STEP.rewind-N.safetensors}, so that a step
 * checkpointed again on the live branch leaves the abandoned branch's file in place.
 */
public final class ObjectKeys {

    /** Longest segment produced, well below the 255 bytes file systems allow in a name. */
    static final int MAX_SEGMENT = 200;

    private ObjectKeys() {
    }

    public static String checkpoint(String run, String profile, long step, int rewinds, String extension) {
        return "runs/" + segment(run) + "/" + segment(profile) + "/step-" + step
                + (rewinds == 0 ? "" : ".rewind-" + rewinds) + "." + extension;
    }

    /**
     * Percent-encodes every byte of the UTF-8 form except ASCII letters, digits, '-', '_' and
     * '.', and a leading '.', so that the result is one safe path segment ('.', '..' and '/'
     * included) and distinct strings give distinct segments. Segments longer than
     * {@value #MAX_SEGMENT} characters are cut and end in '~' and the SHA-256 of the string.
     */
    public static String segment(String s) {
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty path segment");
        }
        String encoded = encode(s);
        if (encoded.length() <= MAX_SEGMENT) {
            return encoded;
        }
        // File systems cap a name at 255 bytes: keep a readable prefix and make it unique with a
        // hash. '~' is always percent-encoded above, so a shortened name never equals a plain one.
        return encoded.substring(0, MAX_SEGMENT - 65) + "~" + sha256(s);
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(StrictUtf8.encode(s)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String encode(String s) {
        StringBuilder out = new StringBuilder();
        byte[] bytes = StrictUtf8.encode(s);
        for (int i = 0; i < bytes.length; i++) {
            int b = bytes[i] & 0xff;
            boolean plain = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
                    || b == '-' || b == '_' || (b == '.' && i > 0);
            if (plain) {
                out.append((char) b);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(b >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        return out.toString();
    }
}
