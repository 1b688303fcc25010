package io.averager.kernel;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.averager.AveragerException;
import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;

/**
 * The {@link Kernel} on PyTorch through DJL, on the CPU or on one CUDA device. Thread-safe: each
 * call works in its own {@link NDManager}, closed before the call returns, so no native memory
 * outlives a call.
 *
 * <p>On the CPU a direct {@code ema} buffer is updated in place by PyTorch, without a copy; heap
 * buffers are staged through direct memory. On {@code cuda:N} each chunk is copied to the device,
 * computed there and copied back. Integer and bool tensors, and {@code set} between identical
 * types, are plain byte copies that never reach PyTorch.
 *
 * <p>The arithmetic is PyTorch's {@code d * ema + (1 - d) * x} with both scalars in the
 * accumulator's type: two products and a sum, which on the CPU equals {@link JavaKernel} bit for
 * bit.
 */
public final class TorchKernel implements Kernel {

    private static final String OFFLINE_PROPERTY = "ai.djl.offline";

    private final Engine engine;
    private final Device device;

    /**
     * Loads the PyTorch engine, offline unless {@code ai.djl.offline} or {@code DJL_OFFLINE} says
     * otherwise, and checks the device exists.
     *
     * @param device {@code cpu} or {@code cuda:N}
     * @throws IllegalArgumentException if {@code device} is neither
     * @throws AveragerException if the native library cannot be loaded or the CUDA device is absent
     */
    public TorchKernel(String device) {
        int gpu = Kernels.gpuIndex(device);
        this.engine = loadEngine();
        if (gpu >= 0) {
            int gpus = engine.getGpuCount();
            if (gpu >= gpus) {
                throw new AveragerException(String.format(
                        "Kernel device is %s but PyTorch %s (%s) sees %d CUDA device(s); expected a device"
                                + " below cuda:%d, or cpu. A CPU-only libtorch sees none: see \"On a GPU\""
                                + " in docs/kernels.md", device, engine.getVersion(), flavor(), gpus, gpus));
            }
            this.device = Device.gpu(gpu);
        } else {
            this.device = Device.cpu();
        }
    }

    private static Engine loadEngine() {
        if (System.getProperty(OFFLINE_PROPERTY) == null && System.getenv("DJL_OFFLINE") == null) {
            // The native jar on the class path holds libtorch; online, DJL would try to download one.
            System.setProperty(OFFLINE_PROPERTY, "true");
        }
        try {
            return Engine.getEngine("PyTorch");
        } catch (RuntimeException | LinkageError e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            throw new AveragerException("Cannot load PyTorch for averager.kernel=torch: " + root
                    + "; expected ai.djl.pytorch:pytorch-native-cpu on the class path, or an installed libtorch"
                    + " named by PYTORCH_LIBRARY_PATH, PYTORCH_VERSION and PYTORCH_FLAVOR", e);
        }
    }

    private static String flavor() {
        String flavor = System.getenv("PYTORCH_FLAVOR");
        return flavor == null ? "flavor from the class path" : "PYTORCH_FLAVOR=" + flavor;
    }

    /** The device the arithmetic runs on, as DJL names it. */
    public String device() {
        return device.toString();
    }

    @Override
    public void set(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count) {
        KernelArguments.check(ema, accumulator, x, input, count);
        if (input == accumulator) {
            ema.put(ema.position(), x, x.position(), count * input.size());
            return;
        }
        if (count == 0) {
            return;
        }
        try (NDManager manager = engine.newBaseManager(device)) {
            NDArray widened = tensor(manager, x, input, count).toType(dataType(accumulator), false);
            copyBack(widened, ema, accumulator, count);
        }
    }

    @Override
    public void update(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count, double decay) {
        KernelArguments.check(ema, accumulator, x, input, count);
        KernelArguments.checkDecay(decay);
        if (!input.floating()) {
            ema.put(ema.position(), x, x.position(), count * input.size());
            return;
        }
        if (count == 0) {
            return;
        }
        // PyTorch casts Python-float scalars to the tensor's type, so F32 state sees float scalars.
        Number d = accumulator == Dtype.F64 ? (Number) decay : (Number) (float) decay;
        Number omd = accumulator == Dtype.F64 ? (Number) (1.0 - decay) : (Number) (float) (1.0 - decay);
        try (NDManager manager = engine.newBaseManager(device)) {
            NDArray e = tensor(manager, ema, accumulator, count);
            NDArray in = tensor(manager, x, input, count);
            // x may be the caller's read-only memory: the product goes to a new tensor.
            NDArray weighted = input == accumulator ? in.mul(omd) : in.toType(dataType(accumulator), false).muli(omd);
            e.muli(d).addi(weighted);
            if (!sharesMemory(ema)) {
                copyBack(e, ema, accumulator, count);
            }
        }
    }

    /** Whether a tensor made from this buffer is the buffer's own memory rather than a copy. */
    private boolean sharesMemory(ByteBuffer buffer) {
        return buffer.isDirect() && !device.isGpu();
    }

    // DJL's create ignores the buffer's position, hence the slice; PyTorch reads little-endian bytes.
    private static NDArray tensor(NDManager manager, ByteBuffer buffer, Dtype dtype, int count) {
        if (dtype == Dtype.BF16) {
            return manager.create(widenBf16(buffer, count), new Shape(count), DataType.FLOAT32);
        }
        ByteBuffer region = buffer.slice(buffer.position(), count * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        return manager.create(region, new Shape(count), dataType(dtype));
    }

    /**
     * BF16 to F32 is exact: the bits move to the top half. DJL 0.36 aborts the JVM when it makes a
     * BFLOAT16 tensor from a buffer, so BF16 input reaches PyTorch already widened.
     */
    private static ByteBuffer widenBf16(ByteBuffer buffer, int count) {
        ShortBuffer bits = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        ByteBuffer floats = ByteBuffer.allocateDirect(4 * count).order(ByteOrder.LITTLE_ENDIAN);
        IntBuffer out = floats.asIntBuffer();
        for (int i = 0; i < count; i++) {
            out.put(i, (bits.get(i) & 0xffff) << 16);
        }
        return floats;
    }

    private static void copyBack(NDArray result, ByteBuffer ema, Dtype accumulator, int count) {
        ByteBuffer bytes = result.toByteBuffer();
        ema.put(ema.position(), bytes, bytes.position(), count * accumulator.size());
    }

    private static DataType dataType(Dtype dtype) {
        switch (dtype) {
            case F32:
            case BF16:
                return DataType.FLOAT32;
            case F16:
                return DataType.FLOAT16;
            case F64:
                return DataType.FLOAT64;
            default:
                throw new IllegalArgumentException("No PyTorch arithmetic for " + dtype + "; expected a floating dtype");
        }
    }
}
