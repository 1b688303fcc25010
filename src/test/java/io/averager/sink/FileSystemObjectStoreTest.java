package io.averager.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSystemObjectStoreTest {

    @TempDir
    Path tmp;

    private Path root;
    private Path spool;
    private FileSystemObjectStore store;

    @BeforeEach
    void create() throws IOException {
        root = Files.createDirectories(tmp.resolve("store"));
        spool = Files.createDirectories(tmp.resolve("spool"));
        store = new FileSystemObjectStore(root);
    }

    @Test
    void getCopiesTheObjectItsUriNamesAndRefusesOtherSchemes() throws IOException {
        URI uri = store.put(ObjectKeys.checkpoint("run 1", "ema", 5, 0, "safetensors"), spooled("b.part", "stored bytes"));
        Path copy = tmp.resolve("copy");

        store.get(uri, copy);

        assertThat(copy).hasContent("stored bytes");
        assertThatThrownBy(() -> store.get(URI.create("s3://bucket/key"), copy)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.get(root.resolve("missing").toUri(), copy)).isInstanceOf(IOException.class);
        assertThat(copy).doesNotExist();
    }

    @Test
    void putMovesTheFileToItsKeyUnderTheRoot() throws IOException {
        Path file = spooled("a.part", "checkpoint bytes");
        String key = ObjectKeys.checkpoint("team/run-1", "ema", 1200, 0, "safetensors");

        URI uri = store.put(key, file);

        Path target = root.resolve("runs/team%2Frun-1/ema/step-1200.safetensors");
        assertThat(Paths.get(uri)).isEqualTo(target.toAbsolutePath());
        assertThat(target).hasContent("checkpoint bytes");
        assertThat(file).doesNotExist();
        assertThat(filesUnder(root)).containsExactly(target);
    }

    @Test
    void putReplacesAnExistingObjectWholeAndLeavesNoStagingFiles() throws IOException {
        String key = "runs/r/ema/step-1.safetensors";
        store.put(key, spooled("first", "old content that is longer"));

        store.put(key, spooled("second", "new"));

        Path target = root.resolve(key);
        assertThat(target).hasContent("new");
        assertThat(filesUnder(root)).containsExactly(target);
        assertThat(filesUnder(spool)).isEmpty();
    }

    @Test
    void refusesKeysThatLeaveTheRoot() throws IOException {
        Path file = spooled("a.part", "x");
        Path outside = tmp.resolve("escaped");

        for (String key : List.of("../escaped", "runs/../../escaped", outside.toAbsolutePath().toString())) {
            assertThatThrownBy(() -> store.put(key, file))
                    .as(key)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(key)
                    .hasMessageContaining("leaves the store's root");
        }
        assertThat(outside).doesNotExist();
        assertThat(file).exists();
        assertThat(filesUnder(root)).isEmpty();
    }

    @Test
    void acceptsAKeyThatWandersButStaysUnderTheRoot() throws IOException {
        store.put("runs/x/../y/file", spooled("a.part", "x"));

        assertThat(root.resolve("runs/y/file")).hasContent("x");
    }

    @Test
    void aKeyNamingTheRootItselfFailsAndLeavesTheRootInPlace() throws IOException {
        Path file = spooled("a.part", "x");

        for (String key : List.of(".", "runs/..")) {
            assertThatThrownBy(() -> store.put(key, file))
                    .as(key)
                    .isInstanceOfAny(IllegalArgumentException.class, IOException.class);
            assertThat(root).isDirectory();
        }
        assertThat(file).exists();
    }

    @Test
    void describesItselfByItsRoot() {
        assertThat(store.describe()).isEqualTo(root.toAbsolutePath().normalize().toString());
    }

    private Path spooled(String name, String content) throws IOException {
        return Files.writeString(spool.resolve(name), content);
    }

    private static List<Path> filesUnder(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).toList();
        }
    }
}
