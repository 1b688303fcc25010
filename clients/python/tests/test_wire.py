"""Unit tests of the wire encoding: Avro primitives, records, prefixes against the service's
schemas, the digest, grid ranges and the safetensors reader. No Kafka.

    python3 -m unittest discover -s clients/python/tests -p 'test_*.py'

The schemas are read from AVERAGER_AVRO_DIR, by default src/main/avro of this repository.
"""

import collections
import json
import os
import re
import struct
import sys
import unittest
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "clients" / "python"))

import torch  # noqa: E402

from averager_client import avro, find_checkpoint, grid_range, layout, read_safetensors, wire  # noqa: E402
from averager_client.loader import _mark_superseded  # noqa: E402
from averager_client.errors import CheckpointError  # noqa: E402

AVRO_DIR = Path(os.environ.get("AVERAGER_AVRO_DIR", REPO / "src" / "main" / "avro"))


def schemas():
    """Full name -> parsed JSON of every .avsc file."""
    found = {}
    for path in sorted(AVRO_DIR.glob("*.avsc")):
        s = json.loads(path.read_text())
        found[f"{s['namespace']}.{s['name']}"] = s
    if not found:
        raise AssertionError(f"no .avsc files in {AVRO_DIR}")
    return found


def described(schema, named, namespace="io.averager.wire.avro"):
    """The package's type description of an .avsc schema, to compare with wire's."""
    if isinstance(schema, str):
        if schema in ("null", "boolean", "int", "long", "string", "bytes"):
            return schema
        return described(named[schema if "." in schema else f"{namespace}.{schema}"], named, namespace)
    if isinstance(schema, list):
        return ("union", tuple(described(b, named, namespace) for b in schema))
    kind = schema["type"]
    if kind == "record":
        return ("record", schema["name"], tuple((f["name"], described(f["type"], named, namespace))
                                                 for f in schema["fields"]))
    if kind == "enum":
        return ("enum", schema["name"], tuple(schema["symbols"]))
    if kind == "array":
        return ("array", described(schema["items"], named, namespace))
    if kind == "map":
        return ("map", described(schema["values"], named, namespace))
    return described(kind, named, namespace)


def encoded(avro_type, value):
    out = bytearray()
    avro.encode(avro_type, value, out)
    return bytes(out)


class PrefixesMatchTheSchemas(unittest.TestCase):

    def test_every_embedded_prefix_is_the_fingerprint_of_its_avsc(self):
        named = schemas()
        for name, prefix in wire.PREFIXES.items():
            computed = avro.prefix(avro.fingerprint(named[f"io.averager.wire.avro.{name}"], named))
            self.assertEqual(computed.hex(), prefix.hex(), name)

    def test_record_descriptions_transcribe_the_avsc_files(self):
        named = schemas()
        for name, record_type in wire.RECORDS.items():
            self.assertEqual(described(named[f"io.averager.wire.avro.{name}"], named), record_type, name)

    def test_earlier_prefixes_are_the_fingerprints_of_the_earlier_schemas(self):
        named = schemas()
        for name, prefix, record_type, defaults in wire.EARLIER:
            path = REPO / "src" / "main" / "resources" / "io" / "averager" / "wire" / f"{name}-v1.avsc"
            earlier = json.loads(path.read_text())
            self.assertEqual(avro.prefix(avro.fingerprint(earlier, named)).hex(), prefix.hex(), name)
            self.assertEqual(described(earlier, named), record_type, name)
            current = [f for f, _ in wire.RECORDS[name][2]]
            self.assertEqual(current, [f for f, _ in record_type[2]] + list(defaults), name)

    def test_a_manifest_of_an_earlier_service_reads_as_one_of_branch_zero(self):
        value = {"run": "r", "profile": "ema", "step": 30, "uri": "file:/c/step-30.safetensors", "format": "safetensors",
                 "size": 100, "sha256": "ab", "tensors": [], "snapshotTime": 5}
        data = bytearray(bytes.fromhex("C301 4781E30AA1D723C1"))
        avro.encode(wire.CHECKPOINT_MANIFEST_V1, value, data)
        self.assertEqual(wire.decode_record(wire.CHECKPOINT_MANIFEST, bytes(data)), {**value, "rewinds": 0})
        current = wire.encode_record(wire.CHECKPOINT_MANIFEST, {**value, "rewinds": 2})
        self.assertEqual(wire.decode_record(wire.CHECKPOINT_MANIFEST, current)["rewinds"], 2)

    def test_wire_format_page_prints_the_same_prefixes(self):
        page = (REPO / "docs" / "wire-format.md").read_text()
        printed = dict(re.findall(r"#### (\w+)\n\n[^\n]*Single-object prefix: `([0-9A-F ]+)`", page))
        for name, prefix in wire.PREFIXES.items():
            self.assertEqual(printed.get(name), prefix.hex(" ").upper(), name)


class Fingerprints(unittest.TestCase):

    def test_crc64_avro_known_answer(self):
        # From Avro's schema-tests: the fingerprint of "null".
        self.assertEqual(avro.crc64_avro(b'"null"'), 7195948357588979594)

    def test_canonical_form_strips_orders_and_qualifies(self):
        schema = {"doc": "d", "fields": [
            {"type": {"items": "A", "type": "array"}, "name": "f", "default": [], "doc": "x"},
            {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "u", "type": ["null", {"type": "string"}]},
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["a", "b"], "doc": "y"}},
            {"name": "g", "type": "E"},
        ], "type": "record", "namespace": "x", "name": "A"}
        self.assertEqual(avro.canonical_form(schema),
                         '{"name":"x.A","type":"record","fields":['
                         '{"name":"f","type":{"type":"array","items":"x.A"}},'
                         '{"name":"t","type":"long"},'
                         '{"name":"u","type":["null","string"]},'
                         '{"name":"e","type":{"name":"x.E","type":"enum","symbols":["a","b"]}},'
                         '{"name":"g","type":"x.E"}]}')
        self.assertEqual(avro.canonical_form({"type": "int"}), '"int"')


class AvroPrimitives(unittest.TestCase):

    def test_longs_are_zig_zag_varints(self):
        for n, hex_ in ((0, "00"), (-1, "01"), (1, "02"), (-64, "7f"), (64, "8001"), (-(1 << 63), "ffffffffffffffffff01"),
                        ((1 << 63) - 1, "feffffffffffffffff01")):
            self.assertEqual(encoded("long", n).hex(), hex_, n)
            self.assertEqual(avro.Reader(bytes.fromhex(hex_)).read("long"), n)

    def test_strings_bytes_booleans(self):
        self.assertEqual(encoded("string", "foo").hex(), "06666f6f")
        self.assertEqual(encoded("bytes", b"\x00\xff").hex(), "0400ff")
        self.assertEqual(encoded("boolean", True).hex(), "01")
        self.assertEqual(avro.Reader(encoded("string", "späße ✓")).read("string"), "späße ✓")

    def test_arrays_maps_enums_unions_round_trip(self):
        t = ("record", "R", (
            ("a", ("array", "long")), ("m", ("map", "string")), ("e", ("enum", "E", ("X", "Y"))),
            ("u", ("union", ("null", "string"))), ("b", "bytes"), ("i", "int")))
        for value in ({"a": [], "m": {}, "e": "X", "u": None, "b": b"", "i": 0},
                      {"a": [1, -2, 1 << 40], "m": {"k": "v", "ü": ""}, "e": "Y", "u": "why", "b": b"\x01" * 300,
                       "i": -(1 << 31)}):
            data = encoded(t, value)
            reader = avro.Reader(data)
            self.assertEqual(reader.read(t), value)
            self.assertEqual(reader.pos, len(data))
        self.assertEqual(encoded(("array", "long"), [1, 2]).hex(), "04020400")

    def test_negative_block_counts_carry_a_byte_size(self):
        self.assertEqual(avro.Reader(bytes.fromhex("03" "04" "02" "04" "00")).read(("array", "long")), [1, 2])

    def test_refuses_what_does_not_fit(self):
        for avro_type, value in (("int", 1 << 31), ("long", 1 << 63), ("string", b"x"), ("boolean", 1),
                                 (("enum", "E", ("A",)), "B"), (("union", ("null", "string")), 3)):
            with self.assertRaises(avro.AvroError, msg=f"{avro_type} {value!r}"):
                encoded(avro_type, value)
        for data, avro_type in ((b"\x80", "long"), (b"\x0a", "string"), (b"\x02", "boolean"),
                                (b"\xff" * 11, "long"), (b"\x7e", ("array", "long"))):
            with self.assertRaises(avro.AvroError, msg=data.hex()):
                avro.Reader(data).read(avro_type)


class Records(unittest.TestCase):

    HEADER = {"run": "run-42", "step": 7, "mode": "SET", "grid": 4, "chunkCount": 3, "endOfRun": True,
              "checkpoint": False,
              "metadata": {"arch": "mlp"}, "copy": ["w"],
              "tensors": [{"name": "w", "dtype": "BF16", "shape": [2, 3]}, {"name": "n", "dtype": "I64", "shape": []}]}

    def test_header_round_trips_behind_its_prefix(self):
        data = wire.encode_record(wire.SNAPSHOT_HEADER, self.HEADER)
        self.assertEqual(data[:10], wire.PREFIXES["SnapshotHeader"])
        self.assertEqual(wire.decode_record(wire.SNAPSHOT_HEADER, data), self.HEADER)

    def test_chunk_header_plus_data_is_the_whole_chunk_record(self):
        data = bytes(range(12))
        record = wire.chunk_header("run-42", 7, "w", 4, len(data)) + data
        self.assertEqual(bytes(record), wire.encode_record(wire.SNAPSHOT_CHUNK, {
            "run": "run-42", "step": 7, "tensor": "w", "offset": 4, "data": data}))

    def test_commit_digest_is_a_signed_long(self):
        commit = {"run": "r", "step": 1, "chunkCount": 2, "digest": wire.signed64((1 << 64) - 5)}
        self.assertEqual(commit["digest"], -5)
        data = wire.encode_record(wire.SNAPSHOT_COMMIT, commit)
        self.assertEqual(wire.decode_record(wire.SNAPSHOT_COMMIT, data), commit)

    def test_manifest_round_trips(self):
        manifest = {"run": "r", "profile": "ema", "step": 30, "uri": "file:///tmp/x", "format": "safetensors",
                    "size": 123, "sha256": "ab" * 32, "tensors": self.HEADER["tensors"], "snapshotTime": 1700000000000, "rewinds": 1}
        self.assertEqual(wire.decode_record(wire.CHECKPOINT_MANIFEST,
                                            wire.encode_record(wire.CHECKPOINT_MANIFEST, manifest)), manifest)

    def test_decoding_names_a_wrong_record_type_and_trailing_bytes(self):
        data = wire.encode_record(wire.SNAPSHOT_HEADER, self.HEADER)
        with self.assertRaisesRegex(wire.WireError, "expected a CheckpointManifest, got SnapshotHeader"):
            wire.decode_record(wire.CHECKPOINT_MANIFEST, data)
        with self.assertRaisesRegex(wire.WireError, "1 bytes after"):
            wire.decode_record(wire.SNAPSHOT_HEADER, data + b"\x00")
        with self.assertRaisesRegex(wire.WireError, "malformed"):
            wire.decode_record(wire.SNAPSHOT_HEADER, data[:-3])

    def test_digest_term_is_crc32_of_name_offset_and_data(self):
        data = b"\x01\x02\x03"
        self.assertEqual(wire.digest_term("fc.weight", 1 << 20, data),
                         zlib.crc32(b"fc.weight" + (1 << 20).to_bytes(8, "little") + data))


class SupersededCheckpoints(unittest.TestCase):
    """Which checkpoints a rewind supersedes, and that the loader never picks one."""

    @staticmethod
    def manifest(step, rewinds, run="a"):
        return {"run": run, "profile": "ema", "step": step, "uri": f"file:/c/{run}/{step}-{rewinds}", "rewinds": rewinds}

    @staticmethod
    def rewind(to_step, rewinds):
        return {"run": "a", "requestId": f"r{rewinds}", "toStep": to_step, "rewound": True, "message": "",
                "rewinds": rewinds}

    def test_a_rewind_supersedes_later_steps_of_the_branches_before_it(self):
        # Branch 0 checkpoints 10, 20, 30; rewound to 20; branch 1 checkpoints 30 and 40; rewound to 30.
        ms = [self.manifest(10, 0), self.manifest(20, 0), self.manifest(30, 0), self.manifest(30, 1),
              self.manifest(40, 1), self.manifest(40, 0, run="b")]
        _mark_superseded(ms, [self.rewind(30, 2), self.rewind(20, 1)])
        self.assertEqual([m["superseded"]["rewinds"] if m["superseded"] else None for m in ms],
                         [None, None, 1, None, 2, None])
        self.assertEqual(find_checkpoint(ms, "a")["uri"], "file:/c/a/30-1")
        self.assertEqual(find_checkpoint(ms, "a", step=30)["uri"], "file:/c/a/30-1")
        with self.assertRaisesRegex(CheckpointError, r"at step 40: its checkpoint there is superseded "
                                                     r"\(rewind 2 to step 30, file:/c/a/40-1\); 3 live steps"):
            find_checkpoint(ms, "a", step=40)

    def test_a_profile_whose_checkpoints_are_all_abandoned_has_no_latest(self):
        ms = [self.manifest(30, 0), self.manifest(36, 0)]
        _mark_superseded(ms, [self.rewind(24, 1)])
        with self.assertRaisesRegex(CheckpointError, r"every one is superseded \(rewind 1 to step 24\)"):
            find_checkpoint(ms, "a")


class Layout(unittest.TestCase):

    def test_grid_ranges_cover_a_tensor_once_on_grid_boundaries(self):
        for numel in (0, 1, 7, 8, 9, 100, 1000):
            for world in (1, 2, 3, 5):
                ranges = [grid_range(numel, 4, r, world) for r in range(world)]
                self.assertEqual(ranges[0][0], 0)
                self.assertEqual(ranges[-1][1], numel)
                for (a, b), (c, _) in zip(ranges, ranges[1:]):
                    self.assertEqual(b, c)
                for a, b in ranges:
                    self.assertEqual(a % 4, 0)
                    self.assertTrue(b % 4 == 0 or b == numel)

    def test_layout_takes_tensors_dtypes_and_names(self):
        state = collections.OrderedDict(w=torch.zeros(2, 3, dtype=torch.bfloat16), n=torch.tensor(5))
        self.assertEqual(layout(state), Records.HEADER["tensors"])
        self.assertEqual(layout({"w": (torch.bfloat16, (2, 3)), "n": ("I64", [])}), Records.HEADER["tensors"])
        with self.assertRaisesRegex(TypeError, "complex64"):
            layout({"c": torch.zeros(1, dtype=torch.complex64)})


class Safetensors(unittest.TestCase):

    def test_reads_tensors_in_data_order_with_metadata(self):
        a = torch.arange(6, dtype=torch.float32).reshape(2, 3)
        b = torch.tensor([True, False, True])
        c = torch.tensor(-3, dtype=torch.int64)
        blobs = [("c", "I64", c), ("a", "F32", a), ("b", "BOOL", b)]
        header, data, offset = {"__metadata__": {"run": "r"}}, b"", 0
        for name, dtype, t in blobs:
            raw = bytes(t.reshape(-1).view(torch.uint8).tolist()) if t.dtype != torch.bool else bytes(t.tolist())
            header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
            data += raw
            offset += len(raw)
        head = json.dumps(dict(reversed(list(header.items())))).encode()
        head += b" " * (-len(head) % 8)
        tensors, meta = read_safetensors(bytearray(struct.pack("<Q", len(head)) + head + data))
        self.assertEqual(list(tensors), ["c", "a", "b"])
        self.assertEqual(meta, {"run": "r"})
        for name, _, t in blobs:
            self.assertTrue(torch.equal(tensors[name], t), name)
        with self.assertRaisesRegex(CheckpointError, r"tensor b BOOL\[3\] has bytes \[32, 35\) of 31"):
            read_safetensors(bytearray(struct.pack("<Q", len(head)) + head + data[:-4]))


if __name__ == "__main__":
    unittest.main()
