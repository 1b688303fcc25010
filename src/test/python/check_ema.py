#!/usr/bin/python3
"""Independent check of an EMA checkpoint against the snapshots it was computed from.

Recomputes the exponential moving average the way timm's ModelEmaV2 does, in PyTorch, from the
snapshot files in a directory, and compares it with a checkpoint written by the averager service.
Files are parsed here with struct, json and torch.frombuffer rather than any shared reader, so that
a bug in the service's safetensors code cannot hide behind the same bug in the check.

    python3 check_ema.py --snapshots DIR --checkpoint FILE --decay D [--run R --profile P --step S]

Snapshots are DIR/step-<zero-padded step>.safetensors, applied in numeric step order. The first
sets the EMA; each later one updates floating tensors with e = decay * e + (1 - decay) * m in
float32 (float64 for F64 inputs) and replaces integer and bool tensors with the latest value.
The checkpoint holds floating tensors in that accumulator dtype and the others in their own.

Exit status: 0 when the checkpoint matches, 1 on any mismatch, 2 when the inputs are unusable
(no snapshots, a malformed file, snapshots that disagree with each other).
"""

import argparse
import json
import os
import re
import struct
import sys

import torch

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
NAMES = {dtype: name for name, dtype in DTYPES.items()}
MAX_HEADER_BYTES = 100 << 20
SNAPSHOT = re.compile(r"step-(\d+)\.safetensors")
TOLERANCE = 1e-6


class InputError(Exception):
    """An input that cannot be checked at all, as opposed to a checkpoint that is wrong."""


def read_safetensors(path):
    """Returns ({name: tensor}, metadata) with tensors in data-offset order."""
    # frombuffer reinterprets bytes in native order; the format is little-endian.
    if sys.byteorder != "little":
        raise InputError("this checker assumes a little-endian machine")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise InputError(f"{path}: file too short ({size} bytes)")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > MAX_HEADER_BYTES or n > size - 8:
            raise InputError(f"{path}: header length {n} exceeds the file or the limit")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{path}: header is not valid JSON: {e}") from e
        metadata = header.pop("__metadata__", None) or {}
        entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
        data_start = 8 + n
        expected_begin = 0
        tensors = {}
        for name, entry in entries:
            tensors[name] = read_tensor(f, path, name, entry, data_start, expected_begin, size)
            expected_begin = entry["data_offsets"][1]
        if data_start + expected_begin != size:
            raise InputError(f"{path}: tensors end at byte {data_start + expected_begin}, file has {size}")
    return tensors, metadata


def read_tensor(f, path, name, entry, data_start, expected_begin, size):
    dtype = DTYPES.get(entry["dtype"])
    if dtype is None:
        raise InputError(f"{path}: tensor {name} has unsupported dtype {entry['dtype']}")
    shape = list(entry["shape"])
    begin, end = entry["data_offsets"]
    numel = 1
    for dim in shape:
        numel *= dim
    itemsize = torch.empty((), dtype=dtype).element_size()
    if end - begin != numel * itemsize:
        raise InputError(f"{path}: tensor {name} offsets [{begin}, {end}] do not match shape {shape}")
    if begin != expected_begin:
        raise InputError(f"{path}: tensor {name} begins at {begin}, expected {expected_begin}")
    if data_start + end > size:
        raise InputError(f"{path}: tensor {name} runs past the end of the file")
    if numel == 0:
        # frombuffer refuses an empty buffer.
        return torch.empty(shape, dtype=dtype)
    buf = bytearray(end - begin)
    f.seek(data_start + begin)
    if f.readinto(buf) != len(buf):
        raise InputError(f"{path}: short read of tensor {name}")
    return torch.frombuffer(buf, dtype=dtype).reshape(shape)


def accumulator(dtype):
    if not dtype.is_floating_point:
        return dtype
    return torch.float64 if dtype == torch.float64 else torch.float32


def snapshot_files(directory):
    found = []
    for entry in os.listdir(directory):
        match = SNAPSHOT.fullmatch(entry)
        if match:
            found.append((int(match.group(1)), os.path.join(directory, entry)))
    if not found:
        raise InputError(f"no step-<N>.safetensors files in {directory}")
    return [path for _, path in sorted(found)]


def compute_ema(paths, decay):
    """The EMA after the last snapshot, by tensor name."""
    ema = None
    for path in paths:
        model, _ = read_safetensors(path)
        if ema is None:
            ema = {name: m.to(accumulator(m.dtype)).clone() for name, m in model.items()}
            source = {name: m.dtype for name, m in model.items()}
            continue
        if model.keys() != ema.keys():
            raise InputError(f"{path}: tensors {sorted(model)} differ from the first snapshot's {sorted(ema)}")
        for name, m in model.items():
            e = ema[name]
            if m.shape != e.shape or accumulator(m.dtype) != e.dtype:
                raise InputError(f"{path}: tensor {name} is {NAMES[m.dtype]} {list(m.shape)}, "
                                 f"earlier snapshots gave {NAMES[source[name]]} {list(e.shape)}")
            if e.is_floating_point():
                # timm ModelEmaV2.update: ema_v.copy_(decay * ema_v + (1. - decay) * model_v)
                e.copy_(decay * e + (1. - decay) * m.to(e.dtype))
            else:
                e.copy_(m)
            source[name] = m.dtype
    return ema


def worst_index(diff):
    flat = int(torch.argmax(diff.reshape(-1)))
    index = []
    for dim in reversed(diff.shape):
        index.append(flat % dim)
        flat //= dim
    return tuple(reversed(index))


def compare(name, actual, expected):
    """Returns (max abs diff, None) on a match, or (max abs diff, message)."""
    if actual.dtype != expected.dtype:
        return None, f"{name}: dtype {NAMES[actual.dtype]}, expected {NAMES[expected.dtype]}"
    if actual.shape != expected.shape:
        return None, f"{name}: shape {list(actual.shape)}, expected {list(expected.shape)}"
    if actual.numel() == 0:
        return 0.0, None
    if expected.is_floating_point():
        finite = expected[torch.isfinite(expected)]
        scale = max(1.0, float(finite.abs().max())) if finite.numel() else 1.0
        ok = torch.allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE * scale, equal_nan=True)
        diff = (actual.double() - expected.double()).abs()
        same = (actual == expected) | (torch.isnan(actual) & torch.isnan(expected))
        diff = torch.where(same, torch.zeros_like(diff), torch.nan_to_num(diff, nan=float("inf")))
    else:
        ok = torch.equal(actual, expected)
        diff = (actual.double() - expected.double()).abs()
    worst = float(diff.max())
    if ok:
        return worst, None
    at = worst_index(diff)
    return worst, (f"{name}: worst element {list(at)} expected {expected[at].item()!r}, "
                   f"actual {actual[at].item()!r} (max abs diff {worst:.3g})")


def check_metadata(metadata, args):
    problems = []
    for key, wanted in (("run", args.run), ("profile", args.profile), ("step", args.step)):
        if wanted is None:
            continue
        got = metadata.get(key)
        if key == "step" and got is not None and got.isdigit() and wanted.isdigit():
            equal = int(got) == int(wanted)
        else:
            equal = got == wanted
        if not equal:
            problems.append(f"__metadata__[{key!r}] is {got!r}, expected {wanted!r}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", required=True, help="directory of step-<N>.safetensors files")
    parser.add_argument("--checkpoint", required=True, help="the EMA checkpoint to check")
    parser.add_argument("--decay", required=True, type=float, help="EMA decay, in [0, 1]")
    parser.add_argument("--run")
    parser.add_argument("--profile")
    parser.add_argument("--step")
    args = parser.parse_args()
    if not 0.0 <= args.decay <= 1.0:
        parser.error(f"--decay {args.decay} is outside [0, 1]")

    try:
        paths = snapshot_files(args.snapshots)
        expected = compute_ema(paths, args.decay)
        actual, metadata = read_safetensors(args.checkpoint)
    except (InputError, OSError, KeyError, TypeError, ValueError) as e:
        print(f"check_ema: cannot check: {e}")
        return 2

    problems = check_metadata(metadata, args)
    for name in sorted(expected.keys() - actual.keys()):
        problems.append(f"{name}: missing from the checkpoint")
    for name in sorted(actual.keys() - expected.keys()):
        problems.append(f"{name}: in the checkpoint but not in the snapshots")
    for name, e in expected.items():
        if name not in actual:
            continue
        a = actual[name]
        worst, problem = compare(name, a, e)
        shown = "-" if worst is None else f"{worst:.3g}"
        print(f"{name}\t{NAMES[a.dtype]}\t{list(a.shape)}\tmax abs diff {shown}")
        if problem:
            problems.append(problem)

    if problems:
        for problem in problems:
            print(f"MISMATCH {problem}")
        print(f"check_ema: FAILED ({len(problems)} mismatches, {len(expected)} tensors, {len(paths)} snapshots)")
        return 1
    print(f"check_ema: OK ({len(expected)} tensors, {len(paths)} snapshots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
