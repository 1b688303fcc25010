package io.averager.sink;

import java.nio.charset.StandardCharsets;

/**
 * Object keys of checkpoint files: {@code runs/RUN/PROFILE/step-STEP.safetensors}, with run and
 * profile escaped so that no run id can leave its prefix or collide with another run's.
 */
public final class ObjectKeys {

    private ObjectKeys() {
    }

    public static String checkpoint(String run, String profile, long step, String extension) {
        return "runs/" + segment(run) + "/" + segment(profile) + "/step-" + step + "." + extension;
    }

    /**
     * Percent-encodes every byte of the UTF-8 form except ASCII letters, digits, '-', '_' and
     * '.', and a leading '.', so that the result is one safe path segment ('.', '..' and '/'
     * included) and distinct strings give distinct segments.
     */
    public static String segment(String s) {
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty path segment");
        }
        StringBuilder out = new StringBuilder();
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
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
