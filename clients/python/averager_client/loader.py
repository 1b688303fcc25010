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
                     run_events_topic="run-events", **consumer_config):
    """The manifests (dicts, fields as in docs/wire-format.md) on ``topic``, of ``run_id``
    or of every run, in the order published per partition.

    Each manifest also has ``superseded``: None for a checkpoint of its run's live branch; for
    one whose trainer abandoned the branch (the run was rewound, after this step was averaged,
    to a step below it), the rewind's answer from ``run_events_topic`` (a dict with ``toStep``
    and ``rewinds``). A run-events topic that does not exist holds no rewind.

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
        "allow.auto.create.topics": False,
    }
    config.update(consumer_config)
    consumer = Consumer(config)
    try:
        metadata = consumer.list_topics(timeout=READ_TO_END_S)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            raise CheckpointError(f"Cannot read manifests topic {topic}: {found.error if found else 'absent'}")
        partitions = [(topic, p) for p in sorted(found.partitions)]
        events = metadata.topics.get(run_events_topic)
        if events is None or events.error is not None:
            log.info("No run-events topic %s: no run has been rewound", run_events_topic)
        else:
            partitions += [(run_events_topic, p) for p in sorted(events.partitions)]
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in partitions])
        key = run_id.encode("utf-8") if run_id is not None else None
        manifests, rewinds, at_end = [], [], set()
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            if len(at_end) == len(partitions):
                _mark_superseded(manifests, rewinds)
                if wanted is None or wanted(manifests) or elapsed >= timeout:
                    return manifests
            elif elapsed >= max(timeout, READ_TO_END_S):
                raise CheckpointError(f"Could not read {topic} and {run_events_topic} to their end within "
                                      f"{max(timeout, READ_TO_END_S):.0f} s; partitions "
                                      f"{sorted(set(partitions) - at_end)} unfinished")
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_end.add((message.topic(), message.partition()))
                    continue
                raise CheckpointError(f"Reading {message.topic()}: {error}")
            if key is not None and message.key() != key:
                continue
            record_type = wire.CHECKPOINT_MANIFEST if message.topic() == topic else wire.REWIND_ANSWER
            if record_type is wire.REWIND_ANSWER and bytes(message.value() or b"")[:10] != wire.PREFIXES["RewindAnswer"]:
                continue  # run-events also carries the service's rebuild requests
            try:
                value = wire.decode_record(record_type, message.value())
            except wire.WireError as e:
                log.warning("Skipping %s[%d]@%d: %s", message.topic(), message.partition(), message.offset(), e)
                continue
            if run_id is not None and value["run"] != run_id:
                continue
            if record_type is wire.CHECKPOINT_MANIFEST:
                manifests.append(value)
            elif value["rewound"]:
                rewinds.append(value)
    finally:
        consumer.close()


def _mark_superseded(manifests, rewinds):
    """Sets each manifest's ``superseded``: the first rewind with a higher count to a step below it, or None."""
    by_run = collections.defaultdict(list)
    for r in sorted(rewinds, key=lambda r: r["rewinds"]):
        by_run[r["run"]].append(r)
    for m in manifests:
        m["superseded"] = next((r for r in by_run[m["run"]]
                                if r["rewinds"] > m["rewinds"] and r["toStep"] < m["step"]), None)


def find_checkpoint(manifests, run_id, profile=None, step=None):
    """The live manifest of ``run_id`` for ``profile`` (default: the run's only profile) at
    ``step`` (default: the latest live one); CheckpointError saying what there is otherwise.
    Superseded checkpoints (see list_checkpoints) are never chosen."""
    by_profile = collections.defaultdict(dict)
    abandoned = collections.defaultdict(dict)
    for m in manifests:
        if m["run"] == run_id:
            if m.get("superseded"):
                abandoned[m["profile"]][m["step"]] = m
                continue
            live = by_profile[m["profile"]]
            if m["step"] not in live or live[m["step"]]["rewinds"] <= m["rewinds"]:
                live[m["step"]] = m
    if not by_profile and not abandoned:
        raise CheckpointError(f"No checkpoint of run {run_id}")
    profiles = sorted(set(by_profile) | set(abandoned))
    if profile is None:
        if len(profiles) > 1:
            raise CheckpointError(f"Run {run_id} has checkpoints of profiles {profiles}; choose one with profile=")
        profile = profiles[0]
    steps = by_profile.get(profile)
    if not steps:
        if profile in abandoned:
            rewind = abandoned[profile][max(abandoned[profile])]["superseded"]
            raise CheckpointError(f"No live checkpoint of run {run_id} profile {profile}: every one is superseded "
                                  f"(rewind {rewind['rewinds']} to step {rewind['toStep']})")
        raise CheckpointError(f"No checkpoint of run {run_id} profile {profile}; profiles: {profiles}")
    if step is None:
        return steps[max(steps)]
    if step not in steps:
        have = sorted(steps)
        shown = ", ".join(map(str, have[-10:]))
        why = ""
        if step in abandoned.get(profile, {}):
            rewind = abandoned[profile][step]["superseded"]
            why = (f": its checkpoint there is superseded (rewind {rewind['rewinds']} to step {rewind['toStep']}, "
                   f"{abandoned[profile][step]['uri']})")
        raise CheckpointError(f"No live checkpoint of run {run_id} profile {profile} at step {step}{why}; "
                              f"{len(have)} live steps, the latest: {shown}")
    return steps[step]


def load_ema(bootstrap_servers, run_id, profile=None, step=None, topic="checkpoint-manifests", timeout=0.0,
             s3_endpoint_url=None, s3_client=None, run_events_topic="run-events", **consumer_config):
    """The EMA checkpoint of ``run_id`` as an OrderedDict of tensors in file order, ready for
    ``model.load_state_dict``.

    Takes the latest live step of ``profile`` (default: the run's only profile), or ``step``:
    never a checkpoint that a rewind of the run superseded (see list_checkpoints). Waits
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

    manifests = list_checkpoints(bootstrap_servers, run_id, topic, timeout, wanted, run_events_topic,
                                 **consumer_config)
    return load_manifest(find_checkpoint(manifests, run_id, profile, step), s3_endpoint_url, s3_client)


def load_manifest(manifest, s3_endpoint_url=None, s3_client=None):
    """The tensors of the checkpoint file ``manifest`` names, as an OrderedDict in file order,
    once its size, SHA-256 and tensors are checked against the manifest (see ``load_ema``)."""
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
