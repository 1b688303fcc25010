"""averager's records on Kafka: their Avro types, single-object prefixes, dtypes and the digest.

The types transcribe the schemas in the service's ``src/main/avro``; the prefixes are the
CRC-64-AVRO fingerprints of those schemas (the package's tests recompute both from the
``.avsc`` files). Every function here is pure.
"""

import struct
import zlib

from .avro import MAGIC, PREFIX_LENGTH, AvroError, Reader, encode

DTYPE_SYMBOLS = ("F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL")
DTYPE_SIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

TENSOR_INFO = ("record", "TensorInfo", (
    ("name", "string"),
    ("dtype", ("enum", "Dtype", DTYPE_SYMBOLS)),
    ("shape", ("array", "long")),
))
SNAPSHOT_HEADER = ("record", "SnapshotHeader", (
    ("run", "string"),
    ("step", "long"),
    ("mode", ("enum", "SnapshotMode", ("UPDATE", "SET"))),
    ("tensors", ("array", TENSOR_INFO)),
    ("grid", "long"),
    ("chunkCount", "int"),
    ("endOfRun", "boolean"),
    ("checkpoint", "boolean"),
    ("metadata", ("map", "string")),
    ("copy", ("array", "string")),
))
SNAPSHOT_CHUNK = ("record", "SnapshotChunk", (
    ("run", "string"),
    ("step", "long"),
    ("tensor", "string"),
    ("offset", "long"),
    ("data", "bytes"),
))
SNAPSHOT_COMMIT = ("record", "SnapshotCommit", (
    ("run", "string"),
    ("step", "long"),
    ("chunkCount", "int"),
    ("digest", "long"),
))
REWIND_REQUEST = ("record", "RewindRequest", (
    ("run", "string"),
    ("toStep", "long"),
    ("requestId", "string"),
))
REWIND_ANSWER = ("record", "RewindAnswer", (
    ("run", "string"),
    ("requestId", "string"),
    ("toStep", "long"),
    ("rewound", "boolean"),
    ("message", "string"),
    ("rewinds", "int"),
))
FORK_REQUEST = ("record", "ForkRequest", (
    ("run", "string"),
    ("parent", "string"),
    ("step", "long"),
    ("grid", "long"),
    ("requestId", "string"),
))
FORK_ANSWER = ("record", "ForkAnswer", (
    ("run", "string"),
    ("requestId", "string"),
    ("parent", "string"),
    ("step", "long"),
    ("forked", "boolean"),
    ("message", "string"),
))
CHECKPOINT_MANIFEST_V1 = ("record", "CheckpointManifest", (
    ("run", "string"),
    ("profile", "string"),
    ("step", "long"),
    ("uri", "string"),
    ("format", "string"),
    ("size", "long"),
    ("sha256", "string"),
    ("tensors", ("array", TENSOR_INFO)),
    ("snapshotTime", "long"),
))
CHECKPOINT_MANIFEST = ("record", "CheckpointManifest", CHECKPOINT_MANIFEST_V1[2] + (
    ("rewinds", "int"),
))

RECORDS = {t[1]: t for t in (TENSOR_INFO, SNAPSHOT_HEADER, SNAPSHOT_CHUNK, SNAPSHOT_COMMIT, REWIND_REQUEST,
                             REWIND_ANSWER, FORK_REQUEST, FORK_ANSWER, CHECKPOINT_MANIFEST)}

# C3 01 + CRC-64-AVRO of each schema's canonical form, little-endian (docs/wire-format.md).
PREFIXES = {
    "SnapshotHeader": bytes.fromhex("C301 2FC94F6DCFE86989"),
    "SnapshotChunk": bytes.fromhex("C301 B6D693FD4810677F"),
    "SnapshotCommit": bytes.fromhex("C301 3AA1CC5AF8FBEC63"),
    "RewindRequest": bytes.fromhex("C301 E416ADC79A726CB3"),
    "RewindAnswer": bytes.fromhex("C301 5D6D7D8D57499A02"),
    "ForkRequest": bytes.fromhex("C301 526A2A389FB5B554"),
    "ForkAnswer": bytes.fromhex("C301 92708998B2469B61"),
    "TensorInfo": bytes.fromhex("C301 DF019D6AD16E5040"),
    "CheckpointManifest": bytes.fromhex("C301 DA70C61BDEDE183E"),
}

# Records that earlier versions of the service wrote, still read: (name, prefix, type, the
# values of the fields the type lacks). Their schemas are in src/main/resources/io/averager/wire.
EARLIER = (
    ("CheckpointManifest", bytes.fromhex("C301 4781E30AA1D723C1"), CHECKPOINT_MANIFEST_V1, {"rewinds": 0}),
)


class WireError(ValueError):
    """Bytes that are not the record expected."""


def encode_record(record_type, value):
    """``value`` (a dict) in single-object encoding."""
    out = bytearray(PREFIXES[record_type[1]])
    encode(record_type, value, out)
    return bytes(out)


def decode_record(record_type, data):
    """The dict a single-object encoded ``record_type`` in ``data`` holds."""
    name = record_type[1]
    head = bytes(data[:PREFIX_LENGTH])
    defaults = {}
    if head != PREFIXES[name]:
        earlier = [(t, d) for n, prefix, t, d in EARLIER if n == name and prefix == head]
        if earlier:
            record_type, defaults = earlier[0]
        elif head[:2] != MAGIC:
            raise WireError(f"not single-object encoded: starts with {head[:2].hex()}, expected c301")
        else:
            known = {v: k for k, v in PREFIXES.items()}
            raise WireError(f"expected a {name}, got {known.get(head, 'a record with fingerprint ' + head[2:].hex())}")
    reader = Reader(data, PREFIX_LENGTH)
    try:
        value = reader.read(record_type)
    except AvroError as e:
        raise WireError(f"malformed {name}: {e}") from None
    if reader.pos != len(reader.data):
        raise WireError(f"malformed {name}: {len(reader.data) - reader.pos} bytes after the record")
    return {**value, **defaults}


def chunk_header(run, step, tensor, offset, length):
    """A SnapshotChunk record up to its data: append exactly ``length`` data bytes to complete it."""
    out = bytearray(PREFIXES["SnapshotChunk"])
    for field_type, value in (("string", run), ("long", step), ("string", tensor), ("long", offset),
                              ("long", length)):
        encode(field_type, value, out)
    return out


def chunk_count(numel, grid):
    """Chunks of a tensor of ``numel`` elements: ceil(numel / grid)."""
    return -(-numel // grid)


def digest_term(tensor, offset, data):
    """One chunk's term of a commit digest: CRC-32 of UTF-8 name, 8-byte LE offset and data."""
    return zlib.crc32(data, zlib.crc32(tensor.encode("utf-8") + struct.pack("<q", offset)))


def signed64(n):
    """``n`` modulo 2^64 as the signed long Avro carries."""
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n
