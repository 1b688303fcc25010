"""Tensor layouts for snapshot headers, and the grid cells of tensors in host memory."""

import collections
import ctypes
from collections.abc import Mapping

import torch

from . import wire
from .dtypes import WIRE_TO_TORCH, wire_dtype

TensorInfo = collections.namedtuple("TensorInfo", "name dtype shape")
TensorInfo.__doc__ = """Name, dtype (a torch dtype or a wire name such as "F32") and shape of one tensor."""


def layout(tensors):
    """The header's tensor list for ``tensors``: a state dict (tensors on any device, ``meta``
    included, only dtype and shape are read), a mapping of names to ``(dtype, shape)``, or a
    sequence of ``TensorInfo`` (or of what ``layout`` returns). Order is kept: it is the order
    of the checkpoint file."""
    if isinstance(tensors, Mapping):
        items = tensors.items()
    else:
        items = ((t["name"], (t["dtype"], t["shape"])) if isinstance(t, Mapping) else (t[0], t[1:]) for t in tensors)
    result = []
    for name, t in items:
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {name!r}")
        if isinstance(t, torch.Tensor):
            dtype, shape = wire_dtype(name, t), list(t.shape)
        else:
            dtype, shape = t
            if isinstance(dtype, torch.dtype):
                dtype = wire_dtype(name, torch.empty(0, dtype=dtype))
            if dtype not in WIRE_TO_TORCH:
                raise TypeError(f"tensor {name} has dtype {dtype}; expected one of {list(WIRE_TO_TORCH)}")
            shape = [int(d) for d in shape]
        result.append({"name": name, "dtype": dtype, "shape": shape})
    return result


def numel(info):
    """Elements of a tensor in the header's list (1 for a scalar)."""
    n = 1
    for d in info["shape"]:
        n *= d
    return n


def grid_range(numel_, grid, rank, world_size):
    """The element range ``(start, end)`` of a tensor of ``numel_`` elements that ``rank`` of
    ``world_size`` sends when the grid cells are split into contiguous runs, as evenly as cells
    allow; ``start == end`` when the rank has none."""
    cells = wire.chunk_count(numel_, grid)
    first, last = cells * rank // world_size, cells * (rank + 1) // world_size
    return min(first * grid, numel_), min(last * grid, numel_)


def grid_cells(tensor, start, grid):
    """(element offset, bytes view) of every grid cell of ``tensor``, whose first element is at
    element offset ``start`` of its whole tensor. ``tensor`` must be contiguous and in host
    memory; the views read its memory in place and are valid while it lives."""
    n, size = tensor.numel(), tensor.element_size()
    base = tensor.data_ptr()
    for i in range(0, n, grid):
        count = min(grid, n - i)
        yield start + i, memoryview((ctypes.c_char * (count * size)).from_address(base + i * size)).cast("B")
