"""Following EMA checkpoints as they land: an evaluation job that scores every new checkpoint of a
run, a server that swaps in the latest EMA weights.

    for checkpoint in subscribe("kafka:9092", run_id="run-42", profile="ema", group="eval-run-42"):
        model.load_state_dict(checkpoint.load())
        evaluate(model, checkpoint.step)
"""

import logging
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from . import wire
from .errors import CheckpointError
from .loader import load_manifest

log = logging.getLogger(__name__)

_POLL_S = 0.2


class Checkpoint:
    """One EMA checkpoint as its manifest announced it.

    ``run``, ``profile``, ``step``, ``uri``, ``size``, ``sha256``, ``format`` and the whole
    ``manifest`` (a dict, fields as in docs/wire-format.md); ``superseded``: None for a checkpoint
    of its run's live branch, or the rewind (a dict with ``toStep`` and ``rewinds``) that
    abandoned its branch, as known when it was delivered.
    """

    def __init__(self, manifest, superseded, s3_endpoint_url=None, s3_client=None):
        self.manifest, self.superseded = manifest, superseded
        self.run, self.profile, self.step = manifest["run"], manifest["profile"], manifest["step"]
        self.uri, self.size, self.sha256 = manifest["uri"], manifest["size"], manifest["sha256"]
        self.format = manifest["format"]
        self._s3_endpoint_url, self._s3_client = s3_endpoint_url, s3_client

    def load(self):
        """The checkpoint's tensors as an OrderedDict, ready for ``model.load_state_dict``, once the
        file's size, SHA-256 and tensors match the manifest (CheckpointError otherwise)."""
        if self.format != "safetensors":
            raise CheckpointError(f"{self}: load() reads safetensors files; this one is {self.format}, "
                                  f"for torch.load")
        return load_manifest(self.manifest, self._s3_endpoint_url, self._s3_client)

    def __repr__(self):
        state = "live" if self.superseded is None else (f"superseded by rewind {self.superseded['rewinds']} "
                                                        f"to step {self.superseded['toStep']}")
        return f"Checkpoint(run={self.run!r}, profile={self.profile!r}, step={self.step}, {state}, {self.uri})"


def subscribe(bootstrap_servers, run_id=None, profile=None, from_step=None, group=None, topic="checkpoint-manifests",
              run_events_topic="run-events", timeout=None, s3_endpoint_url=None, s3_client=None, **consumer_config):
    """An iterator of the checkpoints (``Checkpoint``) of ``run_id`` (default: every run) and
    ``profile`` (default: every profile), each as its manifest commits on ``topic``, in the
    topic's order: a run's checkpoints come in step order.

    With ``group`` (a Kafka consumer group), the iterator commits each checkpoint when the caller
    asks for the next one, after the loop body that handled it; a subscriber that restarts in the
    same group goes on after the last checkpoint it finished, so a crash delivers again at most the
    one it was handling. A group that has committed nothing yet, and a subscriber without one,
    start at the first checkpoint at ``from_step`` or above if it is given, else at the end of the
    topic as of this call's return: what commits after it is delivered.

    Waits for each next checkpoint as long as it takes, or ``timeout`` seconds, after which the
    iteration ends. Close it (``close()`` or a ``with`` block) to leave the group at once. Extra
    keyword arguments are librdkafka consumer settings; ``s3_endpoint_url`` and ``s3_client`` are
    for ``load()`` of ``s3://`` checkpoints, as in ``load_ema``.
    """
    return Subscription(bootstrap_servers, run_id, profile, from_step, group, topic, run_events_topic, timeout,
                        s3_endpoint_url, s3_client, consumer_config)


class Subscription:
    """What ``subscribe`` returns: an iterator of checkpoints, and a context manager."""

    def __init__(self, bootstrap_servers, run_id, profile, from_step, group, topic, run_events_topic, timeout,
                 s3_endpoint_url, s3_client, consumer_config, start_timeout=60.0):
        if from_step is not None and (isinstance(from_step, bool) or not isinstance(from_step, int)):
            raise ValueError(f"from_step must be an int, got {from_step!r}")
        self.run_id, self.profile, self.from_step, self.group = run_id, profile, from_step, group
        self.topic, self.timeout = topic, timeout
        self._s3 = (s3_endpoint_url, s3_client)
        self._key = run_id.encode("utf-8") if run_id is not None else None
        base = {"bootstrap.servers": bootstrap_servers, "isolation.level": "read_committed",
                "enable.auto.commit": False, "enable.auto.offset.store": False, "allow.auto.create.topics": False}
        base.update(consumer_config)
        self._consumer = Consumer({**base, "group.id": group or f"averager-subscribe-{uuid.uuid4()}"})
        self._events = Consumer({**base, "group.id": f"averager-subscribe-{uuid.uuid4()}",
                                 "enable.partition.eof": True})
        self._in_hand = None
        self._fetched = []
        self._rewinds = []
        self._events_at_end, self._event_partitions = set(), None
        self._run_events_topic = run_events_topic
        self._closed = False
        try:
            metadata = self._consumer.list_topics(timeout=start_timeout)
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                raise CheckpointError(f"Cannot read manifests topic {topic}: {found.error if found else 'absent'}")
            start = OFFSET_BEGINNING if from_step is not None else None
            if group is None:
                self._consumer.assign([self._starting(TopicPartition(topic, p), start) for p in sorted(found.partitions)])
            else:
                assigned = []

                def on_assign(consumer, partitions):
                    committed = {(c.topic, c.partition): c.offset for c in consumer.committed(partitions, timeout=30)}
                    for p in partitions:
                        if committed.get((p.topic, p.partition), -1) < 0:
                            self._starting(p, start)
                        else:
                            p.offset = committed[(p.topic, p.partition)]
                    consumer.assign(partitions)
                    assigned.append(len(partitions))

                def on_revoke(consumer, partitions):
                    gone = {(p.topic, p.partition) for p in partitions}
                    self._fetched = [m for m in self._fetched if (m.topic(), m.partition()) not in gone]

                self._consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
                deadline = time.monotonic() + start_timeout
                while not assigned:
                    if time.monotonic() > deadline:
                        raise CheckpointError(f"Joining consumer group {group} on {topic} took longer than "
                                              f"{start_timeout:.0f} s")
                    message = self._consumer.poll(_POLL_S)
                    if message is not None:
                        self._fetched.append(message)
        except BaseException:
            self.close()
            raise

    def _starting(self, partition, start):
        """``partition`` set to begin at ``start``, or at its end now if None."""
        if start is None:
            _, high = self._consumer.get_watermark_offsets(partition, timeout=30)
            start = high
        partition.offset = start
        return partition

    def __iter__(self):
        return self

    def __next__(self):
        if self._closed:
            raise StopIteration
        if self._in_hand is not None:
            self._commit(self._in_hand)
            self._in_hand = None
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            while self._fetched:
                message = self._fetched.pop(0)
                manifest = self._wanted(message)
                if manifest is not None:
                    self._in_hand = message
                    return Checkpoint(manifest, self._superseded_by(manifest), *self._s3)
            if deadline is not None and time.monotonic() >= deadline:
                raise StopIteration
            message = self._consumer.poll(_POLL_S)
            if message is None:
                continue
            if message.error() is not None:
                raise CheckpointError(f"Reading {self.topic}: {message.error()}")
            self._fetched.append(message)

    def _wanted(self, message):
        if self._key is not None and message.key() != self._key:
            return None
        try:
            manifest = wire.decode_record(wire.CHECKPOINT_MANIFEST, message.value())
        except wire.WireError as e:
            log.warning("Skipping %s[%d]@%d: %s", message.topic(), message.partition(), message.offset(), e)
            return None
        if ((self.run_id is not None and manifest["run"] != self.run_id)
                or (self.profile is not None and manifest["profile"] != self.profile)
                or (self.from_step is not None and manifest["step"] < self.from_step)):
            return None
        return manifest

    def _commit(self, message):
        if self.group is not None:
            self._consumer.commit(offsets=[TopicPartition(message.topic(), message.partition(), message.offset() + 1)],
                                  asynchronous=False)

    def _superseded_by(self, manifest):
        """The rewind read so far that abandoned ``manifest``'s branch, after reading run-events to its end."""
        if self._event_partitions is None:
            found = self._events.list_topics(self._run_events_topic, timeout=30).topics.get(self._run_events_topic)
            if found is None or found.error is not None or not found.partitions:
                return None  # no run-events topic yet: no run was rewound
            self._event_partitions = {(self._run_events_topic, p) for p in found.partitions}
            self._events.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in self._event_partitions])
        # A partition is at its end from its end-of-partition event until its next record.
        deadline = time.monotonic() + 30
        while True:
            at_end = self._events_at_end == self._event_partitions
            message = self._events.poll(0 if at_end else _POLL_S)
            if message is None:
                if at_end:
                    break
                if time.monotonic() > deadline:
                    raise CheckpointError(f"Could not read {self._run_events_topic} to its end within 30 s")
                continue
            where = (message.topic(), message.partition())
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._events_at_end.add(where)
                    continue
                raise CheckpointError(f"Reading {self._run_events_topic}: {error}")
            self._events_at_end.discard(where)
            if bytes(message.value() or b"")[:10] != wire.PREFIXES["RewindAnswer"]:
                continue
            try:
                answer = wire.decode_record(wire.REWIND_ANSWER, message.value())
            except wire.WireError:
                continue
            if answer["rewound"]:
                self._rewinds.append(answer)
        return next((r for r in sorted(self._rewinds, key=lambda r: r["rewinds"])
                     if r["run"] == manifest["run"] and r["rewinds"] > manifest["rewinds"]
                     and r["toStep"] < manifest["step"]), None)

    def close(self):
        """Leaves the group. The checkpoint in hand is not committed: the group delivers it again."""
        if self._closed:
            return
        self._closed = True
        for consumer in (getattr(self, "_consumer", None), getattr(self, "_events", None)):
            if consumer is not None:
                consumer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
