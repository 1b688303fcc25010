"""Finding EMA checkpoints through their manifests and loading them as PyTorch state dicts."""

import collections
import hashlib
import json
import logging
import os
import struct
import sys
import time
import urllib.parse
import urllib.request
import uuid

import torch
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from . import wire
from .dtypes import WIRE_TO_TORCH
from .errors import CheckpointError

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 100 << 20
READ_TO_END_S = 30.0


def list_checkpoints(bootstrap_servers, run_id=None, topic="checkpoint-manifests", timeout=0.0, wanted=None,
                     **consumer_config):
    """The manifests (dicts, fields as in docs/wire-format.md) on ``topic``, of ``run_id``
    or of every run, in the order published per partition.

    Reads every partition from its start to its end, read_committed, without joining a group or
    committing offsets. If ``wanted(manifests)`` is given and false at the end, goes on reading
    new records until it is true or ``timeout`` seconds have passed.
    """
    config = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": f"averager-load-{uuid.uuid4()}",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    }
    config.update(consumer_config)
    consumer = Consumer(config)
    try:
        metadata = consumer.list_topics(topic, timeout=READ_TO_END_S)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            raise CheckpointError(f"Cannot read manifests topic {topic}: {found.error if found else 'absent'}")
        partitions = sorted(found.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        key = run_id.encode("utf-8") if run_id is not None else None
        manifests, at_end = [], set()
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            if len(at_end) == len(partitions):
                if wanted is None or wanted(manifests) or elapsed >= timeout:
                    return manifests
            elif elapsed >= max(timeout, READ_TO_END_S):
                raise CheckpointError(f"Could not read {topic} to its end within {max(timeout, READ_TO_END_S):.0f} s; "
                                      f"partitions {sorted(set(partitions) - at_end)} unfinished")
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                    continue
                raise CheckpointError(f"Reading {topic}: {error}")
            if key is not None and message.key() != key:
                continue
            try:
                manifest = wire.decode_record(wire.CHECKPOINT_MANIFEST, message.value())
            except wire.WireError as e:
                log.warning("Skipping %s[%d]@%d: %s", topic, message.partition(), message.offset(), e)
                continue
            if run_id is None or manifest["run"] == run_id:
                manifests.append(manifest)
    finally:
        consumer.close()


def find_checkpoint(manifests, run_id, profile=None, step=None):
    """The manifest of ``run_id`` for ``profile`` (default: the run's only profile) at ``step``
    (default: the latest); CheckpointError saying what there is otherwise."""
    by_profile = collections.defaultdict(dict)
    for m in manifests:
        if m["run"] == run_id:
            by_profile[m["profile"]][m["step"]] = m
    if not by_profile:
        raise CheckpointError(f"No checkpoint of run {run_id}")
    if profile is None:
        if len(by_profile) > 1:
            raise CheckpointError(f"Run {run_id} has checkpoints of profiles {sorted(by_profile)}; choose one with profile=")
        profile = next(iter(by_profile))
    steps = by_profile.get(profile)
    if not steps:
        raise CheckpointError(f"No checkpoint of run {run_id} profile {profile}; profiles: {sorted(by_profile)}")
    if step is None:
        return steps[max(steps)]
    if step not in steps:
        have = sorted(steps)
        shown = ", ".join(map(str, have[-10:]))
        raise CheckpointError(f"No checkpoint of run {run_id} profile {profile} at step {step}; "
                              f"{len(have)} steps, the latest: {shown}")
    return steps[step]


def load_ema(bootstrap_servers, run_id, profile=None, step=None, topic="checkpoint-manifests", timeout=0.0,
             s3_endpoint_url=None, s3_client=None, **consumer_config):
    """The EMA checkpoint of ``run_id`` as an OrderedDict of tensors in file order, ready for
    ``model.load_state_dict``.

    Takes the latest step of ``profile`` (default: the run's only profile), or ``step``. Waits
    up to ``timeout`` seconds for it to appear. Reads ``file:`` URIs directly and ``s3://`` ones
    with boto3 (``s3_client``, or one made for ``s3_endpoint_url``, else for the environment's
    ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``), and checks the file's size, SHA-256 and
    tensors against the manifest. Extra keyword arguments are librdkafka consumer settings.
    """

    def wanted(manifests):
        try:
            find_checkpoint(manifests, run_id, profile, step)
            return True
        except CheckpointError:
            return False

    manifests = list_checkpoints(bootstrap_servers, run_id, topic, timeout, wanted, **consumer_config)
    manifest = find_checkpoint(manifests, run_id, profile, step)
    data = read_file(manifest["uri"], s3_endpoint_url, s3_client)
    where = f"checkpoint {manifest['uri']}"
    if len(data) != manifest["size"]:
        raise CheckpointError(f"{where} has {len(data)} bytes, its manifest says {manifest['size']}")
    sha = hashlib.sha256(data).hexdigest()
    if sha != manifest["sha256"]:
        raise CheckpointError(f"{where} has SHA-256 {sha}, its manifest says {manifest['sha256']}")
    tensors, _ = read_safetensors(data, where)
    have = [(n, t.dtype, list(t.shape)) for n, t in tensors.items()]
    expected = [(i["name"], WIRE_TO_TORCH[i["dtype"]], i["shape"]) for i in manifest["tensors"]]
    if sorted(have, key=str) != sorted(expected, key=str):
        raise CheckpointError(f"{where} holds {have}, its manifest says {expected}")
    return tensors


def read_file(uri, s3_endpoint_url=None, s3_client=None):
    """The bytes of ``uri`` (``file:`` or ``s3://``) in a bytearray."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        path = urllib.request.url2pathname(parsed.path)
        try:
            with open(path, "rb") as f:
                data = bytearray(os.fstat(f.fileno()).st_size)
                f.readinto(data)
                return data
        except OSError as e:
            raise CheckpointError(f"Cannot read checkpoint {uri}: {e}") from e
    if parsed.scheme == "s3":
        client = s3_client or _s3_client(s3_endpoint_url)
        key = urllib.parse.unquote(parsed.path[1:])
        try:
            return bytearray(client.get_object(Bucket=parsed.netloc, Key=key)["Body"].read())
        except Exception as e:
            raise CheckpointError(f"Cannot read checkpoint {uri}: {e}") from e
    raise CheckpointError(f"Cannot read checkpoint {uri}: expected a file: or s3:// URI")


def _s3_client(endpoint_url):
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise CheckpointError("Reading s3:// checkpoints needs boto3 (pip install 'averager-client[s3]')") from None
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint_url:
        # S3-compatible stores (MinIO, Ceph) take path-style requests, as the service sends them.
        return boto3.client("s3", endpoint_url=endpoint_url, config=Config(s3={"addressing_style": "path"}))
    return boto3.client("s3")


def read_safetensors(data, where="safetensors data"):
    """(OrderedDict of tensors in data-offset order, metadata) of a safetensors file's bytes
    (a bytearray: the tensors share its memory)."""
    if sys.byteorder != "little":
        raise CheckpointError("safetensors data is little-endian; this reader assumes a little-endian machine")
    if len(data) < 8:
        raise CheckpointError(f"{where}: {len(data)} bytes, too short for safetensors")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > min(MAX_HEADER_BYTES, len(data) - 8):
        raise CheckpointError(f"{where}: header length {n} does not fit the {len(data)} bytes")
    try:
        header = json.loads(bytes(data[8:8 + n]))
    except ValueError as e:
        raise CheckpointError(f"{where}: header is not JSON: {e}") from None
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    entries = []
    for name, t in header.items():
        try:
            dtype = WIRE_TO_TORCH[t["dtype"]]
            shape = [int(d) for d in t["shape"]]
            begin, end = (int(x) for x in t["data_offsets"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{where}: bad header entry for {name}: {t!r} ({e!r})") from None
        count = 1
        for d in shape:
            count *= d
        size = torch.empty(0, dtype=dtype).element_size()
        if end - begin != count * size or begin < 0 or base + end > len(data):
            raise CheckpointError(f"{where}: tensor {name} {t['dtype']}{shape} has bytes [{begin}, {end}) "
                                  f"of {len(data) - base}")
        entries.append((begin, name, dtype, shape, count, size))
    tensors = collections.OrderedDict()
    for begin, name, dtype, shape, count, size in sorted(entries, key=lambda e: e[0]):
        if count == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
        elif (base + begin) % size:
            # Misaligned for its dtype: copy the bytes into a buffer of their own.
            tensors[name] = torch.frombuffer(bytearray(data[base + begin:base + begin + count * size]),
                                             dtype=dtype).reshape(shape)
        else:
            tensors[name] = torch.frombuffer(data, dtype=dtype, count=count, offset=base + begin).reshape(shape)
    return tensors, metadata
