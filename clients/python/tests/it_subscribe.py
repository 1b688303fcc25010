"""Against a running service: subscribers of a run's checkpoints, each a process of its own,
started before the run publishes. One without a group must see every checkpoint exactly once, in
step order. One in a group is killed (SIGKILL) while it handles its third checkpoint; restarted
in the same group, it must see that one again and then the rest: none missed, at most the one in
hand repeated. Every checkpoint a subscriber handles is loaded (and so verified) and must hold the
run's tensors, its integer counter at the checkpoint's step.

    python3 it_subscribe.py --bootstrap-servers B --snapshots-topic T --manifests-topic M
        --run-events-topic E --run R --decay D

The service must average with one profile and checkpoint only on request (cadence off). Exit
status 0 when everything matches.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from averager_client import Publisher, subscribe  # noqa: E402

STEPS = 12
CHECKPOINTED = list(range(2, STEPS + 1, 2))
KILLED_AT = 3  # the subscriber in a group dies handling its third checkpoint
WAIT_S = 90


def weights(step):
    g = torch.Generator().manual_seed(step)
    return {"layer.weight": torch.randn(7, 5, generator=g), "layer.bias": torch.randn(7, generator=g),
            "steps": torch.tensor(step, dtype=torch.int64)}


def child(args):
    """A subscriber: appends 'handling S' and then 'done S' to its log for each checkpoint."""
    with open(args.log, "a", buffering=1) as log, \
            subscribe(args.bootstrap_servers, run_id=args.run, group=args.group, topic=args.manifests_topic,
                      run_events_topic=args.run_events_topic, timeout=WAIT_S,
                      # The group hands a killed member's partitions on after this; librdkafka's default is 45 s.
                      **{"session.timeout.ms": 6000}) as checkpoints:
        log.write("ready\n")
        handled = 0
        for c in checkpoints:
            handled += 1
            log.write(f"handling {c.step}\n")
            if c.superseded is not None or c.run != args.run:
                raise AssertionError(f"unexpected checkpoint {c!r}")
            tensors = c.load()
            if sorted(tensors) != sorted(weights(1)) or int(tensors["steps"]) != c.step:
                raise AssertionError(f"{c!r} holds {sorted(tensors)}, steps {tensors.get('steps')}")
            if handled == args.die_after:
                time.sleep(3600)  # killed here, the checkpoint in hand
            log.write(f"done {c.step}\n")
            if c.step == STEPS:
                return


def start(args, log, group=None, die_after=0):
    command = [sys.executable, __file__, "--child", "--log", str(log), "--die-after", str(die_after),
               "--bootstrap-servers", args.bootstrap_servers, "--manifests-topic", args.manifests_topic,
               "--run-events-topic", args.run_events_topic, "--run", args.run]
    if group:
        command += ["--group", group]
    process = subprocess.Popen(command)
    wait_for(lambda: "ready" in lines(log), f"subscriber {log.name} to start", process)
    return process


def lines(log):
    return log.read_text().split("\n")[:-1] if log.exists() else []


def handled(log):
    return [int(line.split()[1]) for line in lines(log) if line.startswith("handling")]


def wait_for(condition, what, process=None):
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if process is not None and process.poll() not in (None, 0):
            raise AssertionError(f"waiting for {what}: the subscriber exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT_S} s for {what}")
        time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser()
    for name in ("--bootstrap-servers", "--manifests-topic", "--run-events-topic", "--run"):
        parser.add_argument(name, required=True)
    parser.add_argument("--snapshots-topic")
    parser.add_argument("--decay", type=float)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--log", type=Path)
    parser.add_argument("--group")
    parser.add_argument("--die-after", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"it-subscribe-{uuid.uuid4()}"
    work.mkdir()
    group = f"eval-{uuid.uuid4()}"
    whole_log, first_log, second_log = work / "whole.log", work / "first.log", work / "second.log"
    whole = start(args, whole_log)
    first = start(args, first_log, group, die_after=KILLED_AT)
    with Publisher(args.bootstrap_servers, args.run, topic=args.snapshots_topic, grid=16) as publisher:
        for step in range(1, STEPS + 1):
            publisher.publish(weights(step), step, checkpoint=step in CHECKPOINTED, end_of_run=step == STEPS)

    wait_for(lambda: len(handled(first_log)) == KILLED_AT, "the grouped subscriber's third checkpoint", first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_with = handled(first_log)[-1]
    second = start(args, second_log, group)
    for process, log in ((whole, whole_log), (second, second_log)):
        if process.wait(WAIT_S) != 0:
            raise AssertionError(f"subscriber {log.name} exited with {process.returncode}: {lines(log)}")

    if handled(whole_log) != CHECKPOINTED:
        raise AssertionError(f"the subscriber without a group handled {handled(whole_log)}, want {CHECKPOINTED}")
    if handled(first_log) != CHECKPOINTED[:KILLED_AT]:
        raise AssertionError(f"the grouped subscriber handled {handled(first_log)} before its kill")
    if handled(second_log) != CHECKPOINTED[KILLED_AT - 1:]:
        raise AssertionError(f"restarted in its group after a kill handling step {killed_with}, the subscriber "
                             f"handled {handled(second_log)}, want {CHECKPOINTED[KILLED_AT - 1:]}")
    print(f"subscribers saw every checkpoint once in step order: {handled(whole_log)}; killed handling step "
          f"{killed_with}, restarted in its group: {handled(second_log)}")


if __name__ == "__main__":
    main()
