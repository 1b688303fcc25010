#!/usr/bin/python3
"""Check a PyTorch EMA checkpoint (.pt) against the safetensors file it was converted from.

Loads the .pt with torch.load(path, weights_only=True), the loader that refuses anything but
tensors, storages and plain containers, and compares it with the safetensors file read here with
struct, json and torch.frombuffer (check_ema.read_safetensors), so that the service's own readers
play no part:

    python3 check_pt.py --pt FILE --safetensors FILE --run R --profile P --step S
                        [--model linear-bn:IN:OUT]

Checked: the checkpoint is {"state_dict_ema": OrderedDict, "step": int, "run": str,
"profile": str} with the given values; the state dict has the safetensors tensors, in order, each
with the same dtype, shape and bytes (exact equality, bit for bit), contiguous, at storage offset
0, without grad; every zip entry is stored uncompressed and every storage record starts at a
multiple of 64 bytes. With --model, the state dict also loads with strict=True into
nn.Sequential(nn.Linear(IN, OUT), nn.BatchNorm1d(OUT)), and the model then holds those values.

Exit status: 0 when everything matches, 1 on any mismatch, 2 when the inputs are unusable.
"""

import argparse
import collections
import os
import pickle
import struct
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_ema import NAMES, InputError, read_safetensors  # noqa: E402

ALIGNMENT = 64
KEYS = ["state_dict_ema", "step", "run", "profile"]


def raw_bytes(t):
    """The tensor's elements as bytes, so that -0.0, NaN payloads and bf16 compare exactly."""
    return t.contiguous().reshape(-1).view(torch.uint8)


def check_zip(path):
    problems = []
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        infos = z.infolist()
        prefixes = {info.filename.split("/", 1)[0] for info in infos}
        if len(prefixes) != 1:
            problems.append(f"zip entries are under several folders: {sorted(prefixes)}")
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED:
                problems.append(f"zip entry {info.filename} is compressed ({info.compress_type})")
            f.seek(info.header_offset)
            local = f.read(30)
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            data_at = info.header_offset + 30 + name_len + extra_len
            if "/data/" in info.filename and data_at % ALIGNMENT:
                problems.append(f"zip entry {info.filename} data at byte {data_at}, not a multiple of {ALIGNMENT}")
        bad = z.testzip()
        if bad is not None:
            problems.append(f"zip entry {bad} fails its CRC-32")
    return problems


def check_tensors(state_dict, expected):
    problems = []
    if list(state_dict.keys()) != list(expected.keys()):
        problems.append(f"tensor names {list(state_dict.keys())[:10]}... differ from the safetensors "
                        f"file's {list(expected.keys())[:10]}... (in order)")
    for name, e in expected.items():
        a = state_dict.get(name)
        if a is None:
            continue
        if type(a) is not torch.Tensor:
            problems.append(f"{name}: a {type(a).__name__}, not a torch.Tensor")
            continue
        if a.dtype != e.dtype or a.shape != e.shape:
            problems.append(f"{name}: {a.dtype} {list(a.shape)}, expected {e.dtype} {list(e.shape)}")
            continue
        if not a.is_contiguous() or a.storage_offset() != 0 or a.requires_grad:
            problems.append(f"{name}: stride {a.stride()}, storage offset {a.storage_offset()}, "
                            f"requires_grad {a.requires_grad}; expected contiguous at 0 without grad")
        if not torch.equal(raw_bytes(a), raw_bytes(e)):
            problems.append(f"{name}: values differ from the safetensors file")
    return problems


def check_model(spec, state_dict):
    kind, n_in, n_out = spec.split(":")
    if kind != "linear-bn":
        raise InputError(f"unknown model {kind}")
    model = torch.nn.Sequential(torch.nn.Linear(int(n_in), int(n_out)), torch.nn.BatchNorm1d(int(n_out)))
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        return [f"load_state_dict(strict=True) failed: {e}"]
    problems = []
    for name, value in model.state_dict().items():
        if not torch.equal(raw_bytes(value), raw_bytes(state_dict[name])):
            problems.append(f"model {name} differs from the checkpoint after loading")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pt", required=True)
    parser.add_argument("--safetensors", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--step", required=True, type=int)
    parser.add_argument("--model", help="linear-bn:IN:OUT")
    args = parser.parse_args()

    try:
        expected, _ = read_safetensors(args.safetensors)
        checkpoint = torch.load(args.pt, weights_only=True)
    except (InputError, OSError, KeyError, TypeError, ValueError) as e:
        print(f"check_pt: cannot check: {e}")
        return 2
    except (RuntimeError, pickle.UnpicklingError) as e:
        print(f"MISMATCH torch.load(weights_only=True) refused {args.pt}: {e}")
        print("check_pt: FAILED")
        return 1

    problems = check_zip(args.pt)
    if type(checkpoint) is not dict or list(checkpoint.keys()) != KEYS:
        keys = list(checkpoint.keys()) if isinstance(checkpoint, dict) else None
        problems.append(f"checkpoint is a {type(checkpoint).__name__} with keys {keys}, expected a dict of {KEYS}")
        checkpoint = {}
    state_dict = checkpoint.get("state_dict_ema", collections.OrderedDict())
    if type(state_dict) is not collections.OrderedDict:
        problems.append(f"state_dict_ema is a {type(state_dict).__name__}, not an OrderedDict")
    for key, wanted in (("step", args.step), ("run", args.run), ("profile", args.profile)):
        got = checkpoint.get(key)
        if type(got) is not type(wanted) or got != wanted:
            problems.append(f"{key} is {got!r}, expected {wanted!r}")
    problems += check_tensors(state_dict, expected)
    if args.model and not problems:
        try:
            problems += check_model(args.model, state_dict)
        except (InputError, ValueError) as e:
            print(f"check_pt: cannot check: {e}")
            return 2

    for name, t in list(state_dict.items())[:50]:
        print(f"{name}\t{NAMES.get(t.dtype, t.dtype)}\t{list(t.shape)}")
    if problems:
        for problem in problems:
            print(f"MISMATCH {problem}")
        print(f"check_pt: FAILED ({len(problems)} mismatches, {len(expected)} tensors)")
        return 1
    print(f"check_pt: OK ({len(expected)} tensors{', model loaded strictly' if args.model else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
