"""Publishing snapshots of a model's weights from a training loop.

A snapshot is a header, one chunk per grid cell of every tensor and a commit, keyed by the run id
and sent in one Kafka transaction (docs/wire-format.md). ``Publisher.publish`` starts the copy of
the tensors to host memory on the caller's thread and leaves the sending to a background thread:
CPU tensors are copied once, there and then; CUDA tensors go into reused pinned host buffers by
non-blocking copies on a side stream, which the caller's thread does not wait for. Training
waits only for that, unless ``queue_size`` snapshots are already waiting.
"""

import atexit
import collections
import hmac
import operator
import queue
import struct
import sys
import threading
import time
import uuid
import weakref

import torch
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from . import wire
from .dtypes import wire_dtype
from .errors import PublishError
from .names import WRAPPER_PREFIXES, NameRules
from .shards import aligned, check_shards, resolve
from .tensors import grid_cells, layout, numel

MAX_MESSAGE_BYTES = 67174400
"""The largest record the service's topics take (topology/topics.properties)."""

DEFAULT_GRID = 1 << 20
"""Default chunk grid in elements: 4 MiB of float32 per chunk record."""


class _Transaction:
    """Records sent in one transaction; the worker fills in ``result`` = (chunks, digest sum)."""

    def __init__(self, what, step, header=None, shards=(), commit=None, auto_commit=False, staged=None):
        self.what, self.step = what, step
        self.header, self.shards, self.commit, self.auto_commit = header, shards, commit, auto_commit
        self.staged = staged  # _Staged host copies: wait before reading them, give them back after
        self.result = None


class _Staged:
    """The host buffers a snapshot's tensors are copied into, and the events that say the copies
    of CUDA tensors are done."""

    def __init__(self, pool, key, buffers, events):
        self.pool, self.key, self.buffers, self.events = pool, key, buffers, events

    def wait(self):
        for event in self.events:
            event.synchronize()

    def give_back(self):
        self.pool.give(self.key, self.buffers)


class _HostBuffers:
    """Host buffers for the tensors of a state dict, reused from snapshot to snapshot: a set is
    taken for each snapshot and given back once it is sent, so at most ``queue_size`` + 2 sets
    exist (one being filled, those queued, the one being sent). Fresh memory costs a page fault
    every 4 KiB, about as much as the copy itself, and pinned memory is slow to allocate: hence
    kept. A layout change starts new ones and lets the old ones go. CUDA tensors get pinned
    buffers."""

    def __init__(self):
        self._lock = threading.Lock()
        self._free = {}
        self._streams = {}

    def stage(self, tensors):
        """Copies ``(name, tensor)`` pairs into host buffers, contiguous; returns the buffers in
        order and the ``_Staged`` to wait on before reading them. CPU tensors are copied there
        and then. CUDA tensors are copied by non-blocking copies on a side stream: the caller's
        stream waits for them before its next kernels, so that the weights cannot change under
        the copy; the caller's thread does not."""
        key = tuple((name, t.device, t.dtype, tuple(t.shape)) for name, t in tensors)
        with self._lock:
            if key not in self._free:
                self._free = {key: []}  # sets of another layout are freed when given back
            free = self._free[key]
            buffers = free.pop() if free else None
        if buffers is None:
            buffers = [torch.empty(t.shape, dtype=t.dtype, pin_memory=t.device.type == "cuda") for _, t in tensors]
        for (_, t), buffer in zip(tensors, buffers):
            if t.device.type != "cuda":
                buffer.copy_(t.detach())
        events = []
        for device in {t.device for _, t in tensors if t.device.type == "cuda"}:
            side = self._streams.setdefault(device, torch.cuda.Stream(device))
            caller = torch.cuda.current_stream(device)
            side.wait_stream(caller)  # the weights as of this call, whatever the caller queued before
            with torch.cuda.stream(side):
                for (_, t), buffer in zip(tensors, buffers):
                    if t.device == device:
                        buffer.copy_(t.detach(), non_blocking=True)
                        t.record_stream(side)
                done = torch.cuda.Event()
                done.record(side)
            caller.wait_event(done)
            events.append(done)
        return buffers, _Staged(self, key, buffers, events)

    def give(self, key, buffers):
        with self._lock:
            if key in self._free:
                self._free[key].append(buffers)


class Publisher:
    """Publishes snapshots of one training run to the ``snapshots`` topic.

    One publisher per training process, used from one thread. ``publish`` returns once the
    tensors are copied to host memory; a background thread sends each snapshot in a Kafka
    transaction. At most ``queue_size`` copies wait for it: ``publish`` blocks when they are all
    taken (snapshots are never dropped). A failure in the background is raised by the next
    ``publish``, ``flush`` or ``close``, and the publisher sends nothing after it; make a new one
    to go on (the service dead-letters steps it has already applied, so re-sending is harmless).

    Extra keyword arguments are librdkafka producer settings, e.g. ``**{"security.protocol":
    "SSL"}``. ``transactional_id`` defaults to a fresh one; give a stable one per process to fence
    a previous incarnation's open transaction after a restart.

    ``resume_from_step=S``, for a trainer resuming from its own checkpoint at step S: the service
    rewinds the run to S before the snapshots this publisher sends, which continue the EMA as it
    was right after S. It waits for the service's answer on ``run_events_topic`` (up to
    ``timeout``) and raises PublishError if the service cannot rewind there. Cheap where the run
    checkpointed S recently (``checkpoint=True``); any other retained step after such a checkpoint
    is rebuilt by the service from it and the snapshots after it, which the wait must cover. Give
    the dead trainer's ``transactional_id`` so that Kafka fences it first. Of ranks publishing the
    shards of one snapshot together, only rank 0 passes it, before the first barrier.

    Names: the tensors of a state dict are published under the bare model's names, the wrapper
    prefixes ``strip_prefixes`` (DDP's ``module.``, ``torch.compile``'s ``_orig_mod.``) removed,
    so that checkpoints load into the unwrapped model with ``strict=True``; ``strip_prefixes=()``
    keeps names as they are. ``exclude``: regular expressions (``re.search`` on the bare name) of
    tensors left out of the EMA and its checkpoints, as ema-pytorch's ``ignore_names``. ``copy``:
    regular expressions of floating tensors whose EMA is their latest weights rather than an
    average, as ema-pytorch's ``param_or_buffer_names_no_ema`` (integer tensors, such as
    BatchNorm's ``num_batches_tracked``, always are).

    ``signing_key``: the secret key of the run's prefix, where the service requires signed
    snapshots (``averager.snapshot.signing.keys``): bytes, or hex as the service's keys file has
    it. Every record then carries the HMAC-SHA256 of its key and value in its ``averager-mac``
    header; a record without it is dead-lettered by the service.

    ``fork_from=(RUN, S)`` starts this run, which has no snapshot yet, from run RUN's EMA at step
    S (fine-tuning from a checkpoint, a hyperparameter branch): every profile's EMA of this run
    becomes RUN's live checkpoint at S, and this publisher's snapshots, at steps after S and on
    its ``grid``, continue it. The service reads RUN's checkpoint files itself. It waits for the
    answer like ``resume_from_step`` and raises PublishError if the service refused (no live
    checkpoint of RUN at S in every profile, or this run exists). The run's checkpoints name
    their parent in their metadata (``forked_from``, ``forked_from_step``).
    """

    def __init__(self, bootstrap_servers, run_id, every=1, topic="snapshots", grid=DEFAULT_GRID, queue_size=2,
                 transactional_id=None, timeout=60.0, resume_from_step=None, run_events_topic="run-events",
                 fork_from=None, strip_prefixes=WRAPPER_PREFIXES, exclude=None, copy=None, signing_key=None,
                 **producer_config):
        if sys.byteorder != "little":
            raise PublishError("the wire format is little-endian and this client sends native bytes")
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
        for name, value in (("every", every), ("grid", grid), ("queue_size", queue_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if resume_from_step is not None and (isinstance(resume_from_step, bool) or not isinstance(resume_from_step, int)
                                             or resume_from_step < 0):
            raise ValueError(f"resume_from_step must be a non-negative int, got {resume_from_step!r}")
        if fork_from is not None:
            if (not isinstance(fork_from, tuple) or len(fork_from) != 2 or not isinstance(fork_from[0], str)
                    or not fork_from[0] or fork_from[0] == run_id or isinstance(fork_from[1], bool)
                    or not isinstance(fork_from[1], int) or fork_from[1] < 0):
                raise ValueError(f"fork_from must be (another run id, a non-negative step), got {fork_from!r}")
            if resume_from_step is not None:
                raise ValueError("fork_from starts a new run; resume_from_step resumes one: give one of them")
        self.run_id, self.every, self.topic, self.grid, self.timeout = run_id, every, topic, grid, timeout
        self.names = NameRules(strip_prefixes, exclude, copy)
        self._buffers = _HostBuffers()
        self._key = run_id.encode("utf-8")
        self._mac = _record_mac(signing_key, self._key)
        config = {
            "bootstrap.servers": bootstrap_servers,
            "transactional.id": transactional_id or f"averager-py-{uuid.uuid4()}",
            "message.max.bytes": MAX_MESSAGE_BYTES,
            "queue.buffering.max.kbytes": 256 * 1024,
            "linger.ms": 5,
            # The Java client's partitioner: a run's records land on the same partition whichever
            # language published them.
            "partitioner": "murmur2_random",
        }
        config.update(producer_config)
        self._producer = Producer(config)
        try:
            self._producer.init_transactions(timeout)
        except KafkaException as e:
            raise PublishError(f"Cannot start publishing run {run_id} to {topic} as transactional id "
                               f"{config['transactional.id']}: {e}") from e
        self._queue = queue.Queue(maxsize=queue_size)
        self._failure = None
        self._not_sent = []
        self._last_step = None
        self._closed = False
        if resume_from_step is not None:
            request = {"run": run_id, "toStep": resume_from_step, "requestId": str(uuid.uuid4())}
            answer = self._ask(f"Cannot rewind run {run_id} to step {resume_from_step}", wire.REWIND_REQUEST, request,
                               wire.REWIND_ANSWER, "rewound", bootstrap_servers, run_events_topic, producer_config)
            self.rewind_answer = answer["message"]
            self._last_step = resume_from_step
        if fork_from is not None:
            parent, step = fork_from
            request = {"run": run_id, "parent": parent, "step": step, "grid": grid, "requestId": str(uuid.uuid4())}
            answer = self._ask(f"Cannot fork run {run_id} from run {parent} at step {step}", wire.FORK_REQUEST, request,
                               wire.FORK_ANSWER, "forked", bootstrap_servers, run_events_topic, producer_config)
            self.fork_answer = answer["message"]
            self._last_step = step
        self._worker = threading.Thread(target=self._work, name=f"averager-publisher-{run_id}", daemon=True)
        self._worker.start()
        # The worker is a daemon so that a forgotten close cannot hang the interpreter; this sends
        # what is queued before it exits.
        self._at_exit = _close_at_exit(weakref.ref(self))
        atexit.register(self._at_exit)

    # ------------------------------------------------------------------------ whole snapshots

    def publish(self, model_or_state_dict, step, mode="update", end_of_run=False, metadata=None, checkpoint=False):
        """Publishes the state dict (parameters and buffers) of a model, or a state dict, as the
        snapshot of ``step``, if ``step`` is a multiple of ``every`` or ``end_of_run`` or
        ``checkpoint`` is set.

        ``mode="set"`` makes the service reset the EMA to these weights (after loading pretrained
        weights, say). ``end_of_run`` marks the run's last snapshot: it is always checkpointed.
        ``checkpoint=True`` asks for an EMA checkpoint at exactly this step, whatever the
        service's cadence: pass it at the steps where the trainer saves its own checkpoint.
        ``metadata`` (str to str) is copied into the checkpoint files. Returns whether the
        snapshot was queued. Waits only for the copy to host memory, unless the queue is full.
        """
        step = self._check_step(step)
        if step % self.every and not end_of_run and not checkpoint:
            return False
        header = self._header(step, mode, end_of_run, checkpoint, metadata, model_or_state_dict, state=True)
        tensors, staged = header.pop("_tensors"), header.pop("_staged")
        self._submit(_Transaction(f"snapshot of run {self.run_id} step {step}", step, header=header,
                                  shards=[(name, 0, t.reshape(-1)) for name, t in tensors], auto_commit=True,
                                  staged=staged))
        self._last_step = step
        return True

    def flush(self):
        """Waits until every queued snapshot is committed; raises the background failure if any."""
        self._raise_failure()
        self._queue.join()
        self._raise_failure()

    def close(self):
        """Sends what is queued, stops the background thread and the producer. Idempotent."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._at_exit)
        self._queue.put(None)
        self._worker.join()
        self._producer.flush(self.timeout)
        self._raise_failure()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------------ sharded snapshots

    def publish_shard(self, step, shards, tensors, *, rank=None, barrier=None, all_reduce=None, group=None,
                      mode="update", end_of_run=False, metadata=None, checkpoint=False):
        """This process's part of a snapshot that several processes (ranks) publish together.

        Every rank calls it with the same ``step``, ``tensors`` (the whole snapshot's layout, see
        ``layout``), ``mode``, ``end_of_run``, ``checkpoint`` and ``metadata``, and its own
        ``shards``: triples ``(name, offset, tensor)`` where ``tensor`` holds elements
        ``[offset, offset + tensor.numel())`` of the flattened tensor ``name``, on any device.
        Between them, the ranks' shards must hold every element of every tensor once. Names go
        through the publisher's ``strip_prefixes``, ``exclude`` and ``copy`` as in ``publish``.

        Shards may start and end anywhere (FSDP2's uneven dim-0 shards, a ZeRO flat partition:
        ``local_shards`` and ``split_flat`` make them). With torch.distributed initialized, the
        ranks of ``group`` (default: the world) exchange the pieces of the grid cells that straddle
        two shards, so that each cell is sent whole by the rank holding its first element, and
        check their shards' coverage first (PublishError on every rank, naming the tensor and the
        elements). Without it, every shard must start at a multiple of the grid and end at one or
        at its tensor's end (``grid_range`` splits a tensor so).

        Rank 0 sends the header and commits it; after ``barrier()`` every rank sends its chunks
        in a transaction of its own; once ``all_reduce(count, digest)`` (sums over ranks)
        returns, every rank's chunks are committed and rank 0 sends the commit. ``rank``,
        ``barrier`` and ``all_reduce`` default to torch.distributed's. Returns whether the
        snapshot was published (``every``).
        """
        step = self._check_step(step)
        if step % self.every and not end_of_run and not checkpoint:
            return False
        infos = self._named(layout(tensors))
        shards = [(self.names.bare(n), o, t) for n, o, t in shards]
        shards = check_shards([s for s in shards if not self.names.excluded(s[0])], infos)
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            shards = resolve(shards, infos, self.grid, group)
        elif not aligned(shards, self.grid, infos):
            raise ValueError(f"run {self.run_id} step {step}: shards {[(n, o, t.numel()) for n, o, t in shards]} are "
                             f"not aligned to the grid {self.grid}; initialize torch.distributed so that the ranks "
                             f"can complete the cells they share, or split tensors with grid_range")
        if rank is None or barrier is None:
            rank = dist.get_rank(group) if rank is None else rank
            barrier = barrier or (lambda: dist.barrier(group))
        all_reduce = all_reduce or (lambda count, digest: _distributed_sum(count, digest, group))
        if rank == 0:
            self.send_header(step, infos, mode, end_of_run, metadata, checkpoint)
        barrier()
        count, digest = self.send_chunks(step, shards)
        count, digest = all_reduce(count, digest)
        if rank == 0:
            self.send_commit(step, count, digest)
        self._last_step = step
        return True

    def send_header(self, step, tensors, mode="update", end_of_run=False, metadata=None, checkpoint=False):
        """Sends and commits the header of a snapshot of ``tensors`` (see ``layout``; names as in
        ``publish``); waits."""
        header = self._header(self._check_step(step), mode, end_of_run, checkpoint, metadata, tensors, state=False)
        header.pop("_tensors")
        self._run(_Transaction(f"header of run {self.run_id} step {step}", step, header=header))

    def send_chunks(self, step, shards):
        """Sends and commits the chunks of ``shards`` (see ``publish_shard``); waits. Returns
        ``(chunks sent, sum of their digest terms)`` for the ranks to add up."""
        host = []
        for name, offset, tensor in shards:
            if offset % self.grid:
                raise ValueError(f"shard of {name} starts at element {offset}, not a multiple of the grid {self.grid}")
            name = self.names.bare(name)
            if self.names.excluded(name):
                continue
            wire_dtype(name, tensor)
            host.append((name, int(offset), _host_copy(tensor).reshape(-1)))
        transaction = _Transaction(f"chunks of run {self.run_id} step {step}", int(step), shards=host)
        self._run(transaction)
        return transaction.result

    def send_commit(self, step, chunk_count, digest):
        """Sends and commits the commit of a snapshot whose ``chunk_count`` chunks, with digest
        terms summing to ``digest``, every rank has committed; waits."""
        commit = {"run": self.run_id, "step": int(step), "chunkCount": int(chunk_count),
                  "digest": wire.signed64(int(digest))}
        self._run(_Transaction(f"commit of run {self.run_id} step {step}", int(step), commit=commit))

    # ------------------------------------------------------------------------ internals

    def _ask(self, at, request_type, request, answer_type, done, bootstrap_servers, run_events_topic, producer_config):
        """Sends and commits ``request`` on the run's partition, before anything else is sent, and
        waits for its answer on ``run_events_topic``; raises PublishError if the service refused."""
        settings = {k: v for k, v in producer_config.items() if k.startswith(("security.", "ssl.", "sasl."))}
        answers = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"averager-py-answer-{uuid.uuid4()}",
                            "enable.auto.commit": False, "isolation.level": "read_committed", **settings})
        try:
            topic = answers.list_topics(run_events_topic, timeout=self.timeout).topics.get(run_events_topic)
            if topic is None or topic.error is not None or not topic.partitions:
                raise PublishError(f"{at}: no topic {run_events_topic} to read the service's answer from; the service"
                                   " creates it at start (averager.topic.run.events)")
            ends = []
            for p in topic.partitions:
                _, high = answers.get_watermark_offsets(TopicPartition(run_events_topic, p), timeout=self.timeout)
                ends.append(TopicPartition(run_events_topic, p, high))
            answers.assign(ends)
            try:
                self._producer.begin_transaction()
                value = wire.encode_record(request_type, request)
                self._producer.produce(self.topic, key=self._key, value=value, headers=self._headers(value))
                self._producer.commit_transaction(self.timeout)
            except KafkaException as e:
                raise PublishError(f"{at} on {self.topic}: {e}") from e
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                message = answers.poll(0.2)
                if message is None or message.error() is not None:
                    continue
                try:
                    answer = wire.decode_record(answer_type, message.value())
                except wire.WireError:
                    continue
                if answer["requestId"] != request["requestId"]:
                    continue
                if not answer[done]:
                    raise PublishError(answer["message"])
                return answer
            raise PublishError(f"{at}: no answer from the service on {run_events_topic} within {self.timeout} s;"
                               f" is it running? The request stays on {self.topic} and is taken once it is")
        finally:
            answers.close()

    def _check_step(self, step):
        self._raise_failure()
        if self._closed:
            raise PublishError(f"publisher of run {self.run_id} is closed")
        try:
            index = -1 if isinstance(step, bool) else operator.index(step)  # int, numpy or 0-d tensor
        except TypeError:
            index = -1
        if index < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        step = index
        if self._last_step is not None and step <= self._last_step:
            raise ValueError(f"run {self.run_id}: step {step} after step {self._last_step}; steps must increase")
        return step

    def _header(self, step, mode, end_of_run, checkpoint, metadata, source, state):
        """The header of a snapshot of ``source``: a model or state dict whose tensors are copied
        to host memory (``state``) or a layout."""
        if mode not in ("update", "set"):
            raise ValueError(f"mode must be 'update' or 'set', got {mode!r}")
        metadata = dict(metadata or {})
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"metadata must map str to str, got {k!r}: {v!r}")
        tensors, staged = [], None
        if state:
            state_dict = source.state_dict() if hasattr(source, "state_dict") else source
            named = self.names.rename(state_dict.items())
            for name, t in named:
                if not isinstance(t, torch.Tensor):
                    raise TypeError(f"state dict entry {name} is a {type(t).__name__}, not a tensor")
                wire_dtype(name, t)
            buffers, staged = self._buffers.stage(named)
            tensors = list(zip((name for name, _ in named), buffers))
            infos = layout(collections.OrderedDict(tensors))
        else:
            infos = self._named(layout(source))
        chunks = sum(wire.chunk_count(numel(i), self.grid) for i in infos)
        copied = [i["name"] for i in infos if i["dtype"] in _FLOATING and self.names.copied(i["name"])]
        return {"run": self.run_id, "step": step, "mode": mode.upper(), "tensors": infos, "grid": self.grid,
                "chunkCount": chunks, "endOfRun": bool(end_of_run), "checkpoint": bool(checkpoint), "metadata": metadata,
                "copy": copied, "_tensors": tensors, "_staged": staged}

    def _named(self, infos):
        """The header's tensor list under the bare names, excluded tensors left out."""
        return [{**i, "name": name} for name, i in self.names.rename((i["name"], i) for i in infos)]

    def _submit(self, transaction):
        self._queue.put(transaction)

    def _run(self, transaction):
        self._submit(transaction)
        self.flush()

    def _raise_failure(self):
        if self._failure is not None:
            not_sent = f"; not sent after it: steps {self._not_sent}" if self._not_sent else ""
            raise PublishError(f"{self._failure}{not_sent}") from self._failure.__cause__

    def _work(self):
        while True:
            transaction = self._queue.get()
            try:
                if transaction is None:
                    return
                if self._failure is not None:
                    self._not_sent.append(transaction.step)
                    continue
                self._send(transaction)
            except BaseException as e:  # whatever it is, training must hear of it
                failure = PublishError(f"Publishing the {transaction.what} to {self.topic} failed: {e}")
                failure.__cause__ = e
                self._failure = failure
            finally:
                self._queue.task_done()

    def _send(self, t):
        p = self._producer
        if t.staged is not None:
            t.staged.wait()
        p.begin_transaction()
        try:
            if t.header is not None:
                self._produce(wire.encode_record(wire.SNAPSHOT_HEADER, t.header))
            count, digest = 0, 0
            for name, start, tensor in t.shards:
                for offset, data in grid_cells(tensor, start, self.grid):
                    # One copy into the record (librdkafka takes bytes only, and copies them again).
                    self._produce(b"".join((wire.chunk_header(self.run_id, t.step, name, offset, len(data)), data)))
                    count += 1
                    digest += wire.digest_term(name, offset, data)
            if t.auto_commit:
                t.commit = {"run": self.run_id, "step": t.step, "chunkCount": count, "digest": wire.signed64(digest)}
            if t.commit is not None:
                self._produce(wire.encode_record(wire.SNAPSHOT_COMMIT, t.commit))
            p.commit_transaction(self.timeout)
            t.result = (count, digest)
        except BaseException:
            try:
                p.abort_transaction(self.timeout)
            except KafkaException:
                pass
            raise
        finally:
            if t.staged is not None:
                t.staged.give_back()

    def _headers(self, value):
        if self._mac is None:
            return None
        mac = self._mac.copy()
        mac.update(value)
        return [(MAC_HEADER, mac.digest())]

    def _produce(self, value):
        headers = self._headers(value)  # signed once, not again on each retry
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=self._key, headers=headers)
                break
            except BufferError:
                # librdkafka's queue is full: let it send, then try again.
                self._producer.poll(0.1)
        self._producer.poll(0)


_FLOATING = ("F32", "F16", "BF16", "F64")

MAC_HEADER = "averager-mac"
"""The Kafka record header of a signed record's MAC (docs/security.md)."""


def _record_mac(signing_key, record_key):
    """The HMAC-SHA256 of a run's records under ``signing_key``, fed with the record key already:
    ``HMAC(key, uint32be(len(record key)) || record key || value)``; None without a key."""
    if signing_key is None:
        return None
    if isinstance(signing_key, str):
        try:
            signing_key = bytes.fromhex(signing_key.strip())
        except ValueError:
            raise ValueError("signing_key must be bytes or hex digits") from None
    if not isinstance(signing_key, (bytes, bytearray)) or len(signing_key) < 32:
        raise ValueError("signing_key must be at least 32 bytes (openssl rand -hex 32)")
    mac = hmac.new(bytes(signing_key), digestmod="sha256")
    mac.update(struct.pack(">I", len(record_key)) + record_key)
    return mac


def _host_copy(tensor):
    """A contiguous copy of ``tensor`` in host memory, made in one copy whatever its device and
    strides (``.to("cpu", copy=True).contiguous()`` copies a strided CPU tensor twice)."""
    tensor = tensor.detach()
    if tensor.device.type == "cpu":
        return tensor.clone(memory_format=torch.contiguous_format)
    return tensor.to("cpu", memory_format=torch.contiguous_format)


def _close_at_exit(ref):
    def close():
        publisher = ref()
        if publisher is not None:
            publisher.close()
    return close


def _distributed_sum(count, digest, group=None):
    import torch.distributed as dist
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(group) == "nccl" else "cpu"
    # Each digest term is below 2^32, so partial sums fit an int64 for any realistic chunk count.
    sums = torch.tensor([count, digest], dtype=torch.int64, device=device)
    dist.all_reduce(sums, group=group)
    return int(sums[0]), int(sums[1])
