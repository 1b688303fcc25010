"""A training loop that can be killed at any moment and resumed from its own last checkpoint, as a
preemptible trainer is. Deterministic: one thread, the model's initial weights seeded, and each
step's data seeded by the step and by the attempt that trains it, so that the steps a killed
attempt had published after its last checkpoint get other weights when trained again.

    python3 it_preempted.py --bootstrap-servers B --snapshots-topic T --run R --steps N
        --save-every K --dir D --attempt A [--resume] [--ask-every M] [--schedule 0:0,12:1,...] [--pause S]

Every K steps it publishes the step, with checkpoint=True (unless --ask-every says otherwise:
every M steps, 0 for never), waits until it is committed, and only then saves model and
optimizer with torch.save (so the service holds every step the trainer can resume from, and with
checkpoint=True its EMA). With --resume it loads D/last.pt and publishes with
resume_from_step=its step, printing the service's answer as "resumed: ...". --schedule replays a preempted run uninterrupted: "start:attempt"
pairs, the data of a step after start coming from that attempt. Prints "start S attempt A",
then "step N" after each step, then "done".
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from averager_client import Publisher  # noqa: E402


def attempt_for(step, schedule, attempt):
    if not schedule:
        return attempt
    return max((a for start, a in schedule if start < step), default=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--snapshots-topic", required=True)
    parser.add_argument("--run-events-topic", default="run-events")
    parser.add_argument("--run", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--save-every", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--attempt", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--schedule", default="")
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--ask-every", type=int, default=None)
    args = parser.parse_args()
    schedule = [tuple(int(x) for x in pair.split(":")) for pair in args.schedule.split(",") if pair]

    torch.set_num_threads(1)
    torch.manual_seed(1234)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    true_w = torch.arange(8, dtype=torch.float32).reshape(8, 1) / 8
    saved = Path(args.dir) / "last.pt"
    start = 0
    if args.resume:
        checkpoint = torch.load(saved)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start = checkpoint["step"]
    print(f"start {start} attempt {args.attempt}", flush=True)

    publisher = Publisher(args.bootstrap_servers, args.run, topic=args.snapshots_topic, grid=64,
                          transactional_id=f"trainer-{args.run}-rank0", resume_from_step=start if args.resume else None,
                          run_events_topic=args.run_events_topic)
    if args.resume:
        print(f"resumed: {publisher.rewind_answer}", flush=True)
    ask_every = args.save_every if args.ask_every is None else args.ask_every
    for step in range(start + 1, args.steps + 1):
        g = torch.Generator().manual_seed(step * 1000 + attempt_for(step, schedule, args.attempt))
        x = torch.randn(64, 8, generator=g)
        y = x @ true_w + 0.1 * torch.randn(64, 1, generator=g)
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        saving = step % args.save_every == 0
        asking = ask_every > 0 and step % ask_every == 0
        publisher.publish(model, step, checkpoint=asking, end_of_run=step == args.steps)
        if saving:
            publisher.flush()
            temporary = saved.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, temporary)
            os.replace(temporary, saved)
        print(f"step {step}", flush=True)
        time.sleep(args.pause)
    publisher.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
