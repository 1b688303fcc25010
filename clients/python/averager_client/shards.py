"""Shards of a snapshot held by several ranks, turned into whole grid cells.

The service takes a tensor in grid cells: chunks of ``grid`` elements at multiples of ``grid``.
A rank of FSDP2 (uneven dim-0 shards) or ZeRO (a flat partition across tensors) holds elements
at any offset and length, so the cells at the edges of its shards are split between ranks. Each
cell is sent by the rank that holds its first element; the rank holding the rest of it sends
those elements there through the process group first (a piece of less than one cell per shard
edge: at most ``2 * grid`` elements per tensor per rank). Every rank learns where every other
rank's shards lie with one ``all_gather_object`` of their offsets and lengths, and checks that
they cover every tensor exactly once.
"""

import collections
import collections.abc

import torch

from .dtypes import wire_dtype
from .errors import PublishError
from .tensors import numel

Segment = collections.namedtuple("Segment", "start end rank index")


def _flat(name, tensor):
    """``tensor``'s elements as one dimension, without a copy where it is contiguous."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"shard of {name} is a {type(tensor).__name__}, not a tensor")
    return tensor.detach().reshape(-1)


def check_shards(shards, infos):
    """``shards`` as ``(name, offset, flat tensor)``, each inside its tensor and of its dtype."""
    by_name = {i["name"]: i for i in infos}
    checked = []
    for name, offset, tensor in shards:
        info = by_name.get(name)
        if info is None:
            raise ValueError(f"shard of {name}: no such tensor in the snapshot's layout")
        flat = _flat(name, tensor)
        offset = int(offset)
        if offset < 0 or offset + flat.numel() > numel(info):
            raise ValueError(f"shard of {name} holds elements [{offset}, {offset + flat.numel()}) of a tensor of "
                             f"{numel(info)} elements")
        if wire_dtype(name, flat) != info["dtype"]:
            raise ValueError(f"shard of {name} is {wire_dtype(name, flat)}; the layout says {info['dtype']}")
        checked.append((name, offset, flat))
    return checked


def aligned(shards, grid, infos):
    """Whether every shard starts at a multiple of ``grid`` and ends at one or at its tensor's end."""
    sizes = {i["name"]: numel(i) for i in infos}
    return all(o % grid == 0 and ((o + t.numel()) % grid == 0 or o + t.numel() == sizes[n]) for n, o, t in shards)


def resolve(shards, infos, grid, group=None):
    """This rank's part of the snapshot as grid-aligned shards ``(name, offset, tensor)``: the
    cells whose first element it holds, completed with the elements other ranks hold of them.
    Every rank of ``group`` (default: torch.distributed's world) must call it together.

    Raises PublishError, on every rank alike, if the ranks' shards leave elements of a tensor out
    or hold some twice, naming the tensor and the elements.
    """
    import torch.distributed as dist

    rank = dist.get_rank(group)
    world = dist.get_world_size(group)
    mine = [(n, o, t.numel()) for n, o, t in shards]
    gathered = [None] * world
    dist.all_gather_object(gathered, mine, group=group)

    segments = collections.defaultdict(list)  # name -> segments sorted by start
    for r, held in enumerate(gathered):
        for index, (name, offset, length) in enumerate(held):
            if length:
                segments[name].append(Segment(offset, offset + length, r, index))
    for info in infos:
        _check_coverage(info["name"], numel(info), sorted(segments[info["name"]]))

    # Pieces: the elements of a segment before its first cell start, for the cell's owner.
    order = {info["name"]: k for k, info in enumerate(infos)}
    transfers = []  # (tensor order, piece start, piece end, name, from rank, from index, to rank, to index)
    for name, held in segments.items():
        held.sort()
        size = numel(next(i for i in infos if i["name"] == name))
        for k, s in enumerate(held):
            if s.start % grid == 0:
                continue
            cell = s.start // grid * grid
            owner = next(o for o in reversed(held[:k]) if o.start <= cell)
            transfers.append((order[name], s.start, min(s.end, cell + grid, size), name, s.rank, s.index,
                              owner.rank, owner.index))
    transfers.sort()

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(group) == "nccl" else None
    received = collections.defaultdict(list)  # index of this rank's shard -> [(start, elements)]
    incoming, requests = [], []
    for _, start, end, name, src, src_index, dst, dst_index in transfers:
        if src == rank:
            _, offset, flat = shards[src_index]
            piece = flat[start - offset:end - offset]
            if dst == rank:
                received[dst_index].append((start, piece))
            else:
                piece = _bytes(piece.contiguous())
                requests.append(dist.isend(piece if device is None else piece.to(device), dst, group=group))
        elif dst == rank:
            dtype = shards[dst_index][2].dtype
            buffer = torch.empty((end - start) * torch.empty(0, dtype=dtype).element_size(), dtype=torch.uint8,
                                 device=device)
            requests.append(dist.irecv(buffer, src, group=group))
            incoming.append((dst_index, start, buffer, dtype))
    for request in requests:
        request.wait()
    for index, start, buffer, dtype in incoming:
        received[index].append((start, buffer.cpu().view(dtype)))

    sizes = {i["name"]: numel(i) for i in infos}
    result = []
    for index, (name, offset, flat) in enumerate(shards):
        end, size = offset + flat.numel(), sizes[name]
        first = -(-offset // grid) * grid  # the first cell start this shard holds
        if first >= end:
            continue  # inside a cell whose start another shard holds: sent there as a piece
        if end == size or end % grid == 0:
            result.append((name, first, flat[first - offset:]))
            continue
        last = end // grid * grid  # the cell the shard ends inside, completed with the pieces it receives
        if last > first:
            result.append((name, first, flat[first - offset:last - offset]))
        cell = torch.empty(min(last + grid, size) - last, dtype=flat.dtype)
        cell[:end - last].copy_(flat[last - offset:])
        for start, piece in received[index]:
            cell[start - last:start - last + piece.numel()].copy_(piece)
        result.append((name, last, cell))
    return result


def _bytes(tensor):
    """The elements of a contiguous tensor as bytes, for a process group's send."""
    return tensor.reshape(-1).view(torch.uint8) if tensor.numel() else torch.empty(0, dtype=torch.uint8)


def _check_coverage(name, size, held):
    at = 0
    for s in held:
        if s.start > at:
            raise PublishError(f"tensor {name}: elements [{at}, {s.start}) are in no rank's shard")
        if s.start < at:
            raise PublishError(f"tensor {name}: elements [{s.start}, {min(at, s.end)}) are in two shards, of ranks "
                               f"{_holder(held, s.start - 1 if s.start else 0, s)} and {s.rank}")
        at = s.end
    if at < size:
        raise PublishError(f"tensor {name}: elements [{at}, {size}) are in no rank's shard")


def _holder(held, element, other):
    return next((s.rank for s in held if s is not other and s.start <= element < s.end), "?")


def split_flat(partition, start, tensors):
    """The shards ``(name, offset, tensor)`` of a flat partition, as ZeRO keeps them: the
    elements ``[start, start + partition.numel())`` of every tensor of ``tensors`` (a layout, or
    a state dict, in flattening order) laid end to end."""
    partition = partition.detach().reshape(-1)
    end = start + partition.numel()
    shards, at = [], 0
    for name, size in _sizes(tensors):
        lo, hi = max(start, at), min(end, at + size)
        if lo < hi:
            shards.append((name, lo - at, partition[lo - start:hi - start]))
        at += size
    if end > at:
        raise ValueError(f"flat partition [{start}, {end}) reaches past the {at} elements of the tensors")
    return shards


def _sizes(tensors):
    if isinstance(tensors, collections.abc.Mapping):
        return [(n, t.numel()) for n, t in tensors.items()]
    return [(i["name"], numel(i)) for i in tensors]


def local_shards(state_dict, rank=None):
    """This rank's shards ``(name, offset, tensor)`` of a state dict whose values are DTensors
    (FSDP2's parameters: ``Shard(0)`` on their mesh, ``Replicate`` on others) or plain tensors,
    and the snapshot's layout (``[{"name", "dtype", "shape"}]`` of the whole tensors).

    A DTensor's local shard is a range of its flattened elements when it is sharded on dim 0 only;
    of its replicas, the one at coordinate 0 of the replicated mesh dimensions sends it. A plain
    tensor is taken to be the same on every rank and sent by rank 0. Other placements raise
    ValueError naming the tensor. Needs a torch with DTensor (2.4 or newer) for DTensor values.
    """
    import torch.distributed as dist

    rank = dist.get_rank() if rank is None else rank
    infos, shards = [], []
    for name, t in state_dict.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"state dict entry {name} is a {type(t).__name__}, not a tensor")
        if _is_dtensor(t):
            local = t.to_local()
            infos.append({"name": name, "dtype": wire_dtype(name, local), "shape": list(t.shape)})
            offset = _dtensor_offset(name, t, local)
            if offset is not None:
                shards.append((name, offset, local.detach().reshape(-1)))
        else:
            infos.append({"name": name, "dtype": wire_dtype(name, t), "shape": list(t.shape)})
            if rank == 0:
                shards.append((name, 0, t.detach().reshape(-1)))
    return infos, shards


def _is_dtensor(t):
    for module in ("torch.distributed.tensor", "torch.distributed._tensor"):
        try:
            dtensor = __import__(module, fromlist=["DTensor"]).DTensor
        except (ImportError, AttributeError):
            continue
        return isinstance(t, dtensor)
    return False


def _dtensor_offset(name, t, local):
    """The flat element offset of ``local`` in ``t``, or None where another replica sends it."""
    try:
        from torch.distributed.tensor import Replicate, Shard
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
    except ImportError as e:
        raise ValueError(f"tensor {name} is a DTensor, and this torch lacks what reads its placement "
                         f"(torch 2.4 or newer): {e}") from None
    mesh, placements = t.device_mesh, t.placements
    coordinate = mesh.get_coordinate()
    if coordinate is None:
        return None  # this rank is not in the tensor's mesh
    for dim, p in enumerate(placements):
        if isinstance(p, Replicate):
            if coordinate[dim] != 0:
                return None
        elif not (isinstance(p, Shard) and p.dim == 0):
            raise ValueError(f"tensor {name} has placement {p} on mesh dimension {dim}; only Shard(0) and "
                             f"Replicate are published")
    shape, offset = compute_local_shape_and_global_offset(t.shape, mesh, placements)
    if list(shape[1:]) != list(t.shape[1:]):
        raise ValueError(f"tensor {name}: local shard {list(shape)} of {list(t.shape)} is not a range of rows")
    if local.numel() == 0:
        return None
    rows = 1
    for d in t.shape[1:]:
        rows *= d
    return (offset[0] if len(offset) else 0) * rows
