package io.averager.format;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Safetensors files of given tensors filled with deterministic bytes, as sources of conversions. */
final class PtSamples {

    private PtSamples() {
    }

    /** The state dict of {@code nn.Sequential(nn.Linear(in, out), nn.BatchNorm1d(out))}. */
    static List<TensorSpec> linearBatchNorm(int in, int out) {
        return List.of(
                new TensorSpec("0.weight", Dtype.F32, new long[] {out, in}),
                new TensorSpec("0.bias", Dtype.F32, new long[] {out}),
                new TensorSpec("1.weight", Dtype.F32, new long[] {out}),
                new TensorSpec("1.bias", Dtype.F32, new long[] {out}),
                new TensorSpec("1.running_mean", Dtype.F32, new long[] {out}),
                new TensorSpec("1.running_var", Dtype.F32, new long[] {out}),
                new TensorSpec("1.num_batches_tracked", Dtype.I64, new long[0]));
    }

    /** Every dtype, scalars, zero-size tensors, more than three dimensions and more than 1000 tensors. */
    static List<TensorSpec> everyKind() {
        List<TensorSpec> specs = new ArrayList<>();
        for (Dtype dtype : Dtype.values()) {
            specs.add(new TensorSpec("t." + dtype, dtype, new long[] {3, 5}));
            specs.add(new TensorSpec("scalar." + dtype, dtype, new long[0]));
            specs.add(new TensorSpec("empty." + dtype, dtype, new long[] {2, 0, 3}));
        }
        specs.add(new TensorSpec("five.dims", Dtype.F32, new long[] {2, 1, 3, 1, 2}));
        specs.add(new TensorSpec("wide", Dtype.I16, new long[] {300}));
        specs.add(new TensorSpec("blöck.ünïcode", Dtype.F64, new long[] {2}));
        for (int i = 0; i < 1001; i++) {
            specs.add(new TensorSpec("many." + i, Dtype.U8, new long[0]));
        }
        return specs;
    }

    /** Writes {@code specs} with pseudo-random bytes (0 or 1 for BOOL) to {@code file}. */
    static Path write(Path file, List<TensorSpec> specs) throws IOException {
        Random random = new Random(specs.size());
        try (SafetensorsWriter w = SafetensorsWriter.create(file, SafetensorsLayout.of(specs, Map.of("format", "pt")))) {
            for (TensorSpec spec : specs) {
                byte[] bytes = new byte[Math.toIntExact(spec.byteSize())];
                random.nextBytes(bytes);
                if (spec.dtype() == Dtype.BOOL) {
                    for (int i = 0; i < bytes.length; i++) {
                        bytes[i] &= 1;
                    }
                }
                w.write(spec.name(), 0, ByteBuffer.wrap(bytes));
            }
        }
        return file;
    }
}
