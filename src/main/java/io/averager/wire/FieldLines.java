package io.averager.wire;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The lines of a file an operator writes by hand (access file, signing keys): fields separated
 * by white space, {@code #} to the end of a line a comment, blank lines skipped; each line comes
 * with where it is, for errors that name the file and line.
 */
public record FieldLines(String at, String[] fields) {

    /** The non-blank lines of {@code lines}, read from {@code file}. */
    public static List<FieldLines> of(Path file, List<String> lines) {
        List<FieldLines> result = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            String[] fields = (hash < 0 ? line : line.substring(0, hash)).trim().split("\\s+");
            if (fields.length > 1 || !fields[0].isEmpty()) {
                result.add(new FieldLines(file + " line " + (i + 1) + ": ", fields));
            }
        }
        return result;
    }
}
