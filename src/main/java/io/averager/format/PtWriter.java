package io.averager.format;

import io.averager.ema.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Converts a safetensors file into a PyTorch checkpoint in {@code torch.save}'s own zip format,
 * holding {@code {"state_dict_ema": OrderedDict(name -> tensor), "step": int, "run": str,
 * "profile": str}}. {@code torch.load(path, weights_only=True)} reads it from torch 1.13 on: the
 * pickle uses only the globals that loader allows ({@code collections.OrderedDict},
 * {@code torch._utils._rebuild_tensor_v2} and the typed storage classes).
 *
 * <p>The archive holds {@code archive/data.pkl}, {@code archive/byteorder} ({@code little}), one
 * uncompressed record {@code archive/data/<i>} per tensor, in the source's order, with its data
 * at a multiple of 64 bytes, and {@code archive/version} ({@code 3}). Tensors keep their dtype,
 * shape and bytes; each gets a storage of its own. Tensor data is copied in bounded chunks, so
 * memory use does not depend on the size of a tensor or of the file.
 *
 * <p>Stateless and thread-safe; no argument may be {@code null}.
 */
public final class PtWriter {

    /** The key of the state dict in the checkpoint: the one timm's checkpoint loaders look for first. */
    public static final String STATE_DICT_KEY = PtPickle.STATE_DICT_KEY;
    private static final String PREFIX = "archive/";
    private static final int CHUNK_BYTES = 1 << 20;

    private PtWriter() {
    }

    /**
     * Writes every tensor of {@code source} to a new checkpoint at {@code target} (replacing any
     * file there) and forces it to the device.
     *
     * @throws IOException if reading the source or writing the target fails; the target is then
     *     incomplete and the caller's to delete
     * @throws IllegalArgumentException if {@code run}, {@code profile} or a tensor name is not
     *     valid Unicode
     */
    public static void write(SafetensorsReader source, Path target, long step, String run, String profile)
            throws IOException {
        write(source, target, step, run, profile, false);
    }

    /** As {@link #write(SafetensorsReader, Path, long, String, String)}, optionally with ZIP64 fields throughout. */
    static void write(SafetensorsReader source, Path target, long step, String run, String profile,
                      boolean forceZip64) throws IOException {
        Objects.requireNonNull(source, "source");
        List<TensorSpec> tensors = source.tensors();
        byte[] pickle = PtPickle.checkpoint(tensors, step, Objects.requireNonNull(run, "run"),
                Objects.requireNonNull(profile, "profile"));
        try (PtZip zip = PtZip.create(target, forceZip64)) {
            // torch takes the archive's folder name from its first entry.
            zip.add(PREFIX + "data.pkl", pickle);
            zip.add(PREFIX + "byteorder", "little".getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < tensors.size(); i++) {
                copy(source, tensors.get(i), zip, PREFIX + "data/" + i);
            }
            zip.add(PREFIX + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
            zip.finish();
        }
    }

    private static void copy(SafetensorsReader source, TensorSpec spec, PtZip zip, String entry) throws IOException {
        zip.begin(entry, spec.byteSize());
        long numel = spec.numel();
        int perChunk = CHUNK_BYTES / spec.dtype().size();
        for (long at = 0; at < numel; at += perChunk) {
            ByteBuffer chunk = source.read(spec.name(), at, (int) Math.min(perChunk, numel - at));
            zip.write(chunk);
        }
        zip.end();
    }
}
