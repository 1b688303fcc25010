"""PyTorch dtypes and the wire format's (safetensors') dtype names."""

import torch

TORCH_TO_WIRE = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
WIRE_TO_TORCH = {name: dtype for dtype, name in TORCH_TO_WIRE.items()}


def wire_dtype(name, tensor):
    """The wire dtype of ``tensor``; TypeError naming ``name`` if the wire format lacks it."""
    try:
        return TORCH_TO_WIRE[tensor.dtype]
    except KeyError:
        raise TypeError(f"tensor {name} has dtype {tensor.dtype}; the wire format carries "
                        f"{', '.join(str(d) for d in TORCH_TO_WIRE)}") from None
