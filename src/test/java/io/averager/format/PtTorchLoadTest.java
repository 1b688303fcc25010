package io.averager.format;

import io.averager.ema.TensorSpec;
import io.averager.it.PythonCheck;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Converted checkpoints as PyTorch sees them: src/test/python/check_pt.py loads each with
 * {@code torch.load(path, weights_only=True)} (Debian's torch 1.13) and compares every tensor, bit
 * for bit, with the safetensors file it was converted from.
 */
class PtTorchLoadTest {

    private static final String CHECK = "src/test/python/check_pt.py";

    @TempDir
    Path dir;

    private Path convert(String name, List<TensorSpec> specs, long step, String run,
                         boolean forceZip64) throws Exception {
        Path source = PtSamples.write(dir.resolve(name + ".safetensors"), specs);
        Path pt = dir.resolve(name + ".pt");
        try (SafetensorsReader reader = SafetensorsReader.open(source)) {
            PtWriter.write(reader, pt, step, run, "ema", forceZip64);
        }
        return pt;
    }

    @Test
    void torchLoadsEveryDtypeScalarsZeroSizeTensorsAndThousandsOfNamesBitForBit() throws Exception {
        String run = "rün \"42\"";
        Path pt = convert("every-kind", PtSamples.everyKind(), 1L << 40, run, false);

        PythonCheck.run(CHECK, "--pt", pt.toString(), "--safetensors", dir.resolve("every-kind.safetensors").toString(),
                "--run", run, "--profile", "ema", "--step", Long.toString(1L << 40));
    }

    @Test
    void aLinearAndBatchNormStateDictLoadsStrictlyIntoTorchModules() throws Exception {
        Path pt = convert("linear-bn", PtSamples.linearBatchNorm(3, 4), 1200, "run-1", false);

        PythonCheck.run(CHECK, "--pt", pt.toString(), "--safetensors", dir.resolve("linear-bn.safetensors").toString(),
                "--run", "run-1", "--profile", "ema", "--step", "1200", "--model", "linear-bn:3:4");
    }

    @Test
    void torchLoadsAnArchiveWithZip64RecordsThroughoutAsFilesOver4GiBHaveThem() throws Exception {
        Path pt = convert("zip64", PtSamples.linearBatchNorm(5, 2), 7, "run-1", true);

        PythonCheck.run(CHECK, "--pt", pt.toString(), "--safetensors", dir.resolve("zip64.safetensors").toString(),
                "--run", "run-1", "--profile", "ema", "--step", "7", "--model", "linear-bn:5:2");
    }
}
