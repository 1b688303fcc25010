"""Avro binary encoding for the few types averager's records use, and single-object framing.

Types are small Python descriptions rather than parsed schemas:

    "null" "boolean" "int" "long" "string" "bytes"
    ("enum", name, (symbol, ...))        values are the symbol strings
    ("array", item_type)                 values are lists
    ("map", value_type)                  values are dicts with str keys
    ("union", (type, ...))               values are whatever a branch takes (None for "null")
    ("record", name, ((field, type), ...))   values are dicts

``fingerprint`` computes the CRC-64-AVRO fingerprint of a schema's Parsing Canonical Form from
the schema's JSON, as the Avro specification defines them, so tests can check the prefixes this
package embeds against the ``.avsc`` files.
"""

import json
import struct

MAGIC = b"\xc3\x01"
PREFIX_LENGTH = 10

_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


class AvroError(ValueError):
    """A value that does not fit its type, or bytes that are not a valid encoding of it."""


# ---------------------------------------------------------------------------- encoding

def write_long(out, n):
    """Appends ``n`` as a zig-zag varint to the bytearray ``out``."""
    if not _LONG_MIN <= n <= _LONG_MAX:
        raise AvroError(f"{n} does not fit an Avro long")
    z = (n << 1) ^ (n >> 63)
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)


def write_bytes(out, data):
    write_long(out, len(data))
    out += data


def encode(avro_type, value, out):
    """Appends the binary encoding of ``value`` as ``avro_type`` to the bytearray ``out``."""
    if isinstance(avro_type, str):
        if avro_type == "null":
            if value is not None:
                raise AvroError(f"expected None for null, got {value!r}")
        elif avro_type == "boolean":
            if not isinstance(value, bool):
                raise AvroError(f"expected a bool, got {value!r}")
            out.append(1 if value else 0)
        elif avro_type in ("int", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise AvroError(f"expected an int for {avro_type}, got {value!r}")
            if avro_type == "int" and not _INT_MIN <= value <= _INT_MAX:
                raise AvroError(f"{value} does not fit an Avro int")
            write_long(out, value)
        elif avro_type == "string":
            if not isinstance(value, str):
                raise AvroError(f"expected a str, got {value!r}")
            write_bytes(out, value.encode("utf-8"))
        elif avro_type == "bytes":
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise AvroError(f"expected bytes, got {type(value).__name__}")
            write_bytes(out, value)
        else:
            raise AvroError(f"unsupported type {avro_type}")
        return
    kind = avro_type[0]
    if kind == "enum":
        symbols = avro_type[2]
        if value not in symbols:
            raise AvroError(f"{value!r} is not a symbol of enum {avro_type[1]} {list(symbols)}")
        write_long(out, symbols.index(value))
    elif kind == "array":
        items = list(value)
        if items:
            write_long(out, len(items))
            for item in items:
                encode(avro_type[1], item, out)
        out.append(0)
    elif kind == "map":
        if value:
            write_long(out, len(value))
            for key, item in value.items():
                encode("string", key, out)
                encode(avro_type[1], item, out)
        out.append(0)
    elif kind == "union":
        for index, branch in enumerate(avro_type[1]):
            if _accepts(branch, value):
                write_long(out, index)
                encode(branch, value, out)
                return
        raise AvroError(f"no branch of union {list(avro_type[1])} takes {value!r}")
    elif kind == "record":
        for field, field_type in avro_type[2]:
            if field not in value:
                raise AvroError(f"record {avro_type[1]} lacks field {field}")
            try:
                encode(field_type, value[field], out)
            except AvroError as e:
                raise AvroError(f"{avro_type[1]}.{field}: {e}") from None
    else:
        raise AvroError(f"unsupported type {avro_type!r}")


def _accepts(branch, value):
    if branch == "null":
        return value is None
    if branch == "boolean":
        return isinstance(value, bool)
    if branch in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if branch == "string":
        return isinstance(value, str)
    if branch == "bytes":
        return isinstance(value, (bytes, bytearray, memoryview))
    kind = branch[0]
    if kind == "enum":
        return value in branch[2]
    if kind == "array":
        return isinstance(value, (list, tuple))
    return isinstance(value, dict)


# ---------------------------------------------------------------------------- decoding

class Reader:
    """Reads Avro binary values from ``data`` (bytes-like) starting at ``pos``."""

    def __init__(self, data, pos=0):
        self.data = memoryview(data).cast("B")
        self.pos = pos

    def read_long(self):
        shift, z = 0, 0
        while True:
            if self.pos >= len(self.data):
                raise AvroError("truncated varint")
            b = self.data[self.pos]
            self.pos += 1
            z |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 63:
                raise AvroError("varint longer than 10 bytes")
        n = (z >> 1) ^ -(z & 1)
        if not _LONG_MIN <= n <= _LONG_MAX:
            raise AvroError("varint out of the long range")
        return n

    def read_raw(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise AvroError(f"length {n} at byte {self.pos} runs past the end ({len(self.data)} bytes)")
        view = self.data[self.pos:self.pos + n]
        self.pos += n
        return view

    def read(self, avro_type):
        if isinstance(avro_type, str):
            if avro_type == "null":
                return None
            if avro_type == "boolean":
                b = bytes(self.read_raw(1))[0]
                if b > 1:
                    raise AvroError(f"boolean byte {b}")
                return b == 1
            if avro_type in ("int", "long"):
                n = self.read_long()
                if avro_type == "int" and not _INT_MIN <= n <= _INT_MAX:
                    raise AvroError(f"{n} does not fit an Avro int")
                return n
            if avro_type == "string":
                try:
                    return str(self.read_raw(self.read_long()), "utf-8")
                except UnicodeDecodeError as e:
                    raise AvroError(f"string is not UTF-8: {e}") from None
            if avro_type == "bytes":
                return bytes(self.read_raw(self.read_long()))
            raise AvroError(f"unsupported type {avro_type}")
        kind = avro_type[0]
        if kind == "enum":
            index = self.read_long()
            if not 0 <= index < len(avro_type[2]):
                raise AvroError(f"enum {avro_type[1]} index {index} out of range")
            return avro_type[2][index]
        if kind == "array":
            return [self.read(avro_type[1]) for _ in self._blocks()]
        if kind == "map":
            result = {}
            for _ in self._blocks():
                key = self.read("string")
                result[key] = self.read(avro_type[1])
            return result
        if kind == "union":
            index = self.read_long()
            if not 0 <= index < len(avro_type[1]):
                raise AvroError(f"union index {index} out of range")
            return self.read(avro_type[1][index])
        if kind == "record":
            return {field: self.read(field_type) for field, field_type in avro_type[2]}
        raise AvroError(f"unsupported type {avro_type!r}")

    def _blocks(self):
        while True:
            count = self.read_long()
            if count == 0:
                return
            if count < 0:
                count = -count
                self.read_long()  # byte size of the block, only useful for skipping
            if count > len(self.data) - self.pos:
                raise AvroError(f"block of {count} items cannot fit in the {len(self.data) - self.pos} bytes left")
            for _ in range(count):
                yield None


# ---------------------------------------------------------------------------- fingerprints

_CRC64_EMPTY = 0xC15D213AA4D7A795


def _crc64_table():
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_CRC64_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_CRC64_TABLE = _crc64_table()


def crc64_avro(data):
    """The CRC-64-AVRO fingerprint (Avro specification, "Schema Fingerprints") of ``data``."""
    fp = _CRC64_EMPTY
    for b in data:
        fp = (fp >> 8) ^ _CRC64_TABLE[(fp ^ b) & 0xFF]
    return fp


def _json(s):
    return json.dumps(s, ensure_ascii=False)


def canonical_form(schema, named=None):
    """Avro's Parsing Canonical Form of ``schema`` (parsed JSON).

    ``named`` maps full names to the parsed JSON of schemas defined elsewhere (other ``.avsc``
    files): a reference to one is replaced by its definition where it first occurs, as Avro does
    when schemas import each other.
    """
    named = named or {}
    defined = set()

    def full(name, namespace):
        return name if "." in name or not namespace else f"{namespace}.{name}"

    def walk(s, namespace):
        if isinstance(s, str):
            if s in _PRIMITIVES:
                return _json(s)
            name = full(s, namespace)
            if name in defined:
                return _json(name)
            if name not in named:
                raise AvroError(f"unknown type {name}")
            return walk(named[name], name.rpartition(".")[0])
        if isinstance(s, list):
            return "[" + ",".join(walk(branch, namespace) for branch in s) + "]"
        kind = s["type"]
        if kind in _PRIMITIVES:
            return _json(kind)
        if kind in ("record", "error", "enum", "fixed"):
            name = full(s["name"], s.get("namespace", namespace))
            defined.add(name)
            inner = name.rpartition(".")[0]
            parts = [f'"name":{_json(name)}', f'"type":{_json("record" if kind == "error" else kind)}']
            if kind in ("record", "error"):
                fields = ",".join(
                    f'{{"name":{_json(f["name"])},"type":{walk(f["type"], inner)}}}' for f in s["fields"])
                parts.append(f'"fields":[{fields}]')
            elif kind == "enum":
                parts.append(f'"symbols":{"[" + ",".join(_json(x) for x in s["symbols"]) + "]"}')
            else:
                parts.append(f'"size":{int(s["size"])}')
            return "{" + ",".join(parts) + "}"
        if kind == "array":
            return f'{{"type":"array","items":{walk(s["items"], namespace)}}}'
        if kind == "map":
            return f'{{"type":"map","values":{walk(s["values"], namespace)}}}'
        return walk(kind, namespace)

    return walk(schema, "")


def fingerprint(schema, named=None):
    """The CRC-64-AVRO fingerprint of ``schema``'s canonical form, as an unsigned int."""
    return crc64_avro(canonical_form(schema, named).encode("utf-8"))


def prefix(fp):
    """The single-object encoding prefix for fingerprint ``fp``: C3 01 and 8 bytes little-endian."""
    return MAGIC + struct.pack("<Q", fp)
