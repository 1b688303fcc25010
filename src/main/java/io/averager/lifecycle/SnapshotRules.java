package io.averager.lifecycle;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.wire.Tensors;
import io.averager.wire.avro.ForkRequest;
import io.averager.wire.avro.RunLayout;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.TensorInfo;
import java.util.HashSet;
import java.util.Set;

/**
 * The checks a snapshot record must pass on its own, before any state is read. Each returns null
 * when the record is fine, or the reason it is not, naming the run, step and tensor.
 */
public final class SnapshotRules {

    /** Longest tensor name accepted: a guard against absurd keys, far above real state dicts. */
    public static final int MAX_NAME_LENGTH = 1024;

    private final long maxGrid;
    private final long maxTensorElements;

    public SnapshotRules(long maxGrid, long maxTensorElements) {
        this.maxGrid = maxGrid;
        this.maxTensorElements = maxTensorElements;
    }

    public String check(SnapshotHeader h) {
        String at = "Snapshot header for run " + h.getRun() + " step " + h.getStep();
        if (h.getStep() < 0) {
            return at + ": step is negative";
        }
        if (h.getGrid() < 1 || h.getGrid() > maxGrid) {
            return at + ": grid " + h.getGrid() + " is outside [1, " + maxGrid + "] elements";
        }
        if (h.getTensors().isEmpty()) {
            return at + ": no tensors";
        }
        Set<String> names = new HashSet<>();
        long chunks = 0;
        for (TensorInfo t : h.getTensors()) {
            String problem = checkTensor(t);
            if (problem != null) {
                return at + ": " + problem;
            }
            if (!names.add(t.getName())) {
                return at + ": tensor " + t.getName() + " is declared twice";
            }
            chunks += chunksOf(Tensors.spec(t).numel(), h.getGrid());
        }
        if (chunks != h.getChunkCount()) {
            return at + ": chunkCount is " + h.getChunkCount() + ", the tensors on grid " + h.getGrid()
                    + " make " + chunks + " chunks";
        }
        Set<String> copied = new HashSet<>();
        for (String name : h.getCopy()) {
            if (!names.contains(name)) {
                return at + ": copy names tensor " + name + ", which the snapshot does not hold";
            }
            if (!copied.add(name)) {
                return at + ": copy names tensor " + name + " twice";
            }
        }
        return null;
    }

    private String checkTensor(TensorInfo t) {
        String name = t.getName();
        if (name.isEmpty() || name.length() > MAX_NAME_LENGTH) {
            return "tensor name of " + name.length() + " characters (expected 1 to " + MAX_NAME_LENGTH + ")";
        }
        long numel = 1;
        for (long dim : t.getShape()) {
            if (dim < 0) {
                return "tensor " + name + " has negative dimension in shape " + t.getShape();
            }
            try {
                numel = Math.multiplyExact(numel, dim);
            } catch (ArithmeticException e) {
                return "tensor " + name + " has shape " + t.getShape() + " whose size overflows";
            }
            if (numel > maxTensorElements) {
                return "tensor " + name + " has shape " + t.getShape() + " with more than "
                        + maxTensorElements + " elements (averager.max.tensor.elements)";
            }
        }
        return null;
    }

    public String check(SnapshotChunk c) {
        if (c.getTensor().isEmpty() || c.getTensor().length() > MAX_NAME_LENGTH) {
            return "Chunk for run " + c.getRun() + " step " + c.getStep() + ": tensor name of " + c.getTensor().length()
                    + " characters (expected 1 to " + MAX_NAME_LENGTH + ")";
        }
        if (c.getStep() < 0) {
            return "Chunk for run " + c.getRun() + " step " + c.getStep() + ": step is negative";
        }
        if (c.getOffset() < 0) {
            return "Chunk for run " + c.getRun() + " step " + c.getStep() + ": tensor " + c.getTensor()
                    + " has negative offset " + c.getOffset();
        }
        return null;
    }

    public String check(SnapshotCommit c) {
        if (c.getChunkCount() < 0) {
            return "Commit for run " + c.getRun() + " step " + c.getStep() + ": negative chunkCount";
        }
        return null;
    }

    /** The fork request's problem, or null. */
    public String check(ForkRequest f) {
        String at = "Fork of run " + f.getRun() + " from run " + f.getParent() + " at step " + f.getStep();
        if (f.getGrid() < 1 || f.getGrid() > maxGrid) {
            return at + ": grid " + f.getGrid() + " is outside [1, " + maxGrid + "] elements";
        }
        if (f.getStep() < 0 || f.getParent().isEmpty() || f.getParent().equals(f.getRun())) {
            return at + ": expected another run and a step >= 0";
        }
        if (f.getRequestId().length() > MAX_NAME_LENGTH) {
            return at + ": request id of " + f.getRequestId().length() + " characters (expected at most "
                    + MAX_NAME_LENGTH + ")";
        }
        return null;
    }

    /** The rewind request's problem, or null. */
    public String check(RewindRequest r) {
        String at = "Rewind of run " + r.getRun() + " to step " + r.getToStep();
        if (r.getToStep() < 0) {
            return at + ": negative step";
        }
        if (r.getRequestId().length() > MAX_NAME_LENGTH) {
            return at + ": request id of " + r.getRequestId().length() + " characters (expected at most "
                    + MAX_NAME_LENGTH + ")";
        }
        return null;
    }

    /** The chunk's problem against its run's declared layout, or null. */
    static String checkAgainstLayout(SnapshotChunk c, TensorInfo tensor, long grid) {
        String at = "Chunk for run " + c.getRun() + " step " + c.getStep() + ": tensor " + c.getTensor();
        if (tensor == null) {
            return at + " is not declared in the snapshot header";
        }
        TensorSpec spec = Tensors.spec(tensor);
        if (c.getOffset() % grid != 0) {
            return at + " offset " + c.getOffset() + " is not on the chunk grid of " + grid + " elements";
        }
        if (c.getOffset() >= spec.numel()) {
            return at + " offset " + c.getOffset() + " is past the tensor's end (" + spec.numel() + " elements)";
        }
        long elements = Math.min(grid, spec.numel() - c.getOffset());
        long expected = elements * spec.dtype().size();
        if (c.getData().remaining() != expected) {
            return at + " at offset " + c.getOffset() + " has " + c.getData().remaining() + " bytes, expected "
                    + expected + " (" + elements + " " + spec.dtype() + " elements)";
        }
        return null;
    }

    /** How a header's layout differs from its run's: the grid, a new tensor, a changed one, or the set. */
    static String describeLayoutChange(RunLayout state, SnapshotHeader h) {
        if (state.getGrid() != h.getGrid()) {
            return "grid " + h.getGrid() + ", run has " + state.getGrid();
        }
        for (TensorInfo t : h.getTensors()) {
            TensorInfo old = state.getTensors().stream().filter(o -> o.getName().equals(t.getName())).findFirst().orElse(null);
            if (old == null) {
                return "tensor " + t.getName() + " is new";
            }
            if (!old.equals(t)) {
                return "tensor " + t.getName() + " is " + t.getDtype() + t.getShape() + ", run has " + old.getDtype() + old.getShape();
            }
        }
        return "the tensor set changed: " + h.getTensors().size() + " tensors, run has " + state.getTensors().size();
    }

    /**
     * How a forked run's first header does not fit the EMA it was seeded with (the parent's, in
     * EMA dtypes): the grid, a tensor's name, shape or accumulator dtype, or the set; null if it fits.
     */
    static String describeSeedMismatch(RunLayout seeded, SnapshotHeader h) {
        if (seeded.getGrid() != h.getGrid()) {
            return "was seeded on grid " + seeded.getGrid() + ", the snapshot's is " + h.getGrid()
                    + " (fork with the publisher's grid)";
        }
        for (TensorInfo t : h.getTensors()) {
            TensorInfo ema = seeded.getTensors().stream().filter(o -> o.getName().equals(t.getName())).findFirst().orElse(null);
            if (ema == null) {
                return "has no tensor " + t.getName();
            }
            Dtype acc = Tensors.dtype(t.getDtype()).accumulator();
            if (!ema.getShape().equals(t.getShape()) || Tensors.dtype(ema.getDtype()) != acc) {
                return "holds tensor " + t.getName() + " as " + ema.getDtype() + ema.getShape() + ", which "
                        + t.getDtype() + t.getShape() + " does not average into";
            }
        }
        if (h.getTensors().size() != seeded.getTensors().size()) {
            return "has " + seeded.getTensors().size() + " tensors, the snapshot " + h.getTensors().size();
        }
        return null;
    }

    static long chunksOf(long numel, long grid) {
        return (numel + grid - 1) / grid;
    }
}
