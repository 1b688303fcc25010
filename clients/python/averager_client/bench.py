"""What an EMA costs a training loop: kept in process, or published to averager.

    python3 -m averager_client.bench --bootstrap-servers HOST:PORT [--sizes 10M,100M] [--device cpu]

Trains a stack of linear layers of each size with SGD and times each step with, side by side in
one run: nothing (the baseline), timm's ``ModelEmaV2.update`` (transcribed: ``ema.copy_(decay *
ema + (1 - decay) * weights)`` per tensor), a ``ModelEmaV3``-style ``_foreach_lerp_`` update (or
``_foreach_mul_`` and ``_foreach_add_`` where torch has no lerp), ``Publisher.publish`` every
step and every 10 steps. The methods take turns in rounds, so that drift of a noisy machine
spreads over all of them. Prints, per method, the mean time the EMA call holds the training
thread, the loop's median time a step (a publisher's final flush included), what the method adds
to the baseline's step, also as a ratio to ``ModelEmaV2``'s, and the CPU time it adds to this
process a step (all its threads: the publisher's sending thread and librdkafka's included).

The publishing rows need a Kafka cluster with the service's ``snapshots`` topic; no service needs
to run (what it costs is paid elsewhere). ``averager run --embedded --broker-only`` starts one on
this machine; its broker then shares the machine's cores with the training loop, which the
figures include.
"""

import argparse
import copy
import statistics
import sys
import time
import uuid

import torch
from torch import nn

WIDE = 2048
NARROW = 1024


def parse_size(text):
    units = {"K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9}
    text = text.strip().upper()
    try:
        return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"not a parameter count: {text!r} (e.g. 10M, 1.5G, 250000)") from None


def model_of(params, device):
    """Linear layers of width 1024 (2048 from 30M parameters) whose parameters total about ``params``."""
    width = WIDE if params >= 30_000_000 else NARROW
    layers = max(1, round(params / (width * width + width)))
    return nn.Sequential(*(nn.Linear(width, width) for _ in range(layers))).to(device), width


class ModelEmaV2:
    """timm.utils.ModelEmaV2.update, transcribed."""

    name = "ModelEmaV2.update"

    def __init__(self, model, decay):
        self.module = copy.deepcopy(model).eval()
        self.decay = decay

    @torch.no_grad()
    def __call__(self, model, step):
        for ema_v, model_v in zip(self.module.state_dict().values(), model.state_dict().values()):
            ema_v.copy_(self.decay * ema_v + (1. - self.decay) * model_v)


class ModelEmaV3:
    """timm.utils.ModelEmaV3's foreach update: one lerp over all tensors."""

    name = "ModelEmaV3 _foreach_lerp_"

    def __init__(self, model, decay):
        self.module = copy.deepcopy(model).eval()
        self.decay = decay
        self.lerp = hasattr(torch, "_foreach_lerp_")
        if not self.lerp:
            self.name = "ModelEmaV3 _foreach_mul_/add_"

    @torch.no_grad()
    def __call__(self, model, step):
        ema = list(self.module.state_dict().values())
        weights = list(model.state_dict().values())
        if self.lerp:
            torch._foreach_lerp_(ema, weights, weight=1. - self.decay)
        else:
            torch._foreach_mul_(ema, self.decay)
            torch._foreach_add_(ema, weights, alpha=1. - self.decay)


class Publishing:
    """Publisher.publish of the model every ``every`` steps."""

    def __init__(self, bootstrap_servers, topic, every, label):
        from .publisher import Publisher
        self.name = f"Publisher.publish every {every}"
        self.publisher = Publisher(bootstrap_servers, f"bench-{label}-every-{every}-{uuid.uuid4().hex[:8]}",
                                   every=every, topic=topic)

    def __call__(self, model, step):
        self.publisher.publish(model, step)

    def finish(self):
        self.publisher.flush()

    def close(self):
        self.publisher.close()


class Nothing:
    name = "training only"

    def __call__(self, model, step):
        pass


def train_step(model, optimizer, batch):
    loss = model(batch).square().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_size(params, args, out):
    device = torch.device(args.device)
    torch.manual_seed(0)
    model, width = model_of(params, device)
    actual = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    batch = torch.randn(args.batch, width, device=device)
    label = f"{actual // 1_000_000}m"
    methods = [Nothing(), ModelEmaV2(model, args.decay), ModelEmaV3(model, args.decay)]
    if args.bootstrap_servers:
        methods += [Publishing(args.bootstrap_servers, args.topic, 1, label),
                    Publishing(args.bootstrap_servers, args.topic, 10, label)]
    in_call = {m.name: [] for m in methods}
    per_step = {m.name: [] for m in methods}
    cpu = {m.name: [] for m in methods}
    step = 0
    try:
        for m in methods:  # warm up: allocations, pinned buffers, the producer's connections
            for _ in range(args.warmup):
                step += 1
                train_step(model, optimizer, batch)
                m(model, step)
            getattr(m, "finish", lambda: None)()
        for r in range(args.rounds):
            for m in methods:
                synchronize(device)
                started, cpu_started = time.perf_counter(), time.process_time()
                for _ in range(args.steps):
                    step += 1
                    train_step(model, optimizer, batch)
                    before = time.perf_counter()
                    m(model, step)
                    in_call[m.name].append(time.perf_counter() - before)
                getattr(m, "finish", lambda: None)()
                synchronize(device)
                per_step[m.name].append((time.perf_counter() - started) / args.steps)
                cpu[m.name].append((time.process_time() - cpu_started) / args.steps)
            print(f"  {actual / 1e6:.1f}M parameters: round {r + 1} of {args.rounds} done", file=sys.stderr)
    finally:
        for m in methods:
            getattr(m, "close", lambda: None)()
    base = statistics.median(per_step[Nothing.name])
    base_cpu = statistics.median(cpu[Nothing.name])
    v2 = statistics.median(per_step[ModelEmaV2.name]) - base
    for m in methods:
        loop = statistics.median(per_step[m.name])
        call = statistics.mean(in_call[m.name]) * 1000
        added = loop - base
        ratio = "" if m is methods[0] else f"{added / v2:.2f}" if v2 > 0 else "n/a"
        cpu_added = (statistics.median(cpu[m.name]) - base_cpu) * 1000
        out.append((f"{actual / 1e6:.1f}M", m.name, "" if m is methods[0] else f"{call:.1f}", f"{loop * 1000:.1f}",
                    "" if m is methods[0] else f"{added * 1000:.1f}", ratio,
                    "" if m is methods[0] else f"{cpu_added:.1f}"))
    if not args.bootstrap_servers:
        out.append((f"{actual / 1e6:.1f}M", "Publisher.publish", "", "", "", "needs --bootstrap-servers", ""))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m averager_client.bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    parser.add_argument("--bootstrap-servers", metavar="HOST:PORT",
                        help="Kafka cluster with the snapshots topic, for the publishing rows (left out without it)")
    parser.add_argument("--topic", default="snapshots", help="snapshots topic (default: %(default)s)")
    parser.add_argument("--sizes", default="10M,100M", type=lambda s: [parse_size(x) for x in s.split(",")],
                        help="model sizes in parameters, comma-separated (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="where the model trains: cpu or cuda[:N] (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=8, help="rows a training step (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=10, help="steps a method runs each round (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every method in turn (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="steps of each method before timing (default: %(default)s)")
    parser.add_argument("--decay", type=float, default=0.9999, help="EMA decay (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.steps % 10:
        parser.error("--steps must be a multiple of 10, so that publishing every 10 steps publishes as often each round")
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, batch {args.batch}, "
          f"{args.rounds} rounds of {args.steps} steps", file=sys.stderr)
    for size in args.sizes:
        bench_size(size, args, rows)
    header = ("model", "EMA", "in call ms/step", "loop ms/step", "added ms/step", "added / ModelEmaV2",
              "process CPU added ms/step")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")


if __name__ == "__main__":
    main()
