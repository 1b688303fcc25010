"""Against a running service: one snapshot published by several processes at once, each rank
sending its own grid-aligned shard of every tensor, must give the same EMA, bit for bit, as one
process publishing whole tensors. The same data goes to two runs: RUN-whole and RUN-sharded.

    python3 it_sharded.py --bootstrap-servers B --snapshots-topic T --manifests-topic M
        --run RUN --decay D [--ranks 3]

Ranks are processes coordinated by a multiprocessing barrier and shared array, standing in for
torch.distributed's barrier and all_reduce. Chunks of 1 MiB check that records above Kafka's
default size limit go through. Exit status 0 when the EMAs match.
"""

import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from averager_client import Publisher, grid_range, layout, load_ema  # noqa: E402
import service_args  # noqa: E402

GRID = 1 << 18
STEPS = 4


def snapshot(step):
    g = torch.Generator().manual_seed(100 + step)
    return {
        "big.weight": torch.randn(5 * GRID + 123, generator=g).reshape(-1, 1),
        "half.weight": torch.randn(GRID + 77, generator=g).to(torch.bfloat16),
        "small.bias": torch.randn(7, 3, generator=g),
        "counter": torch.tensor(step, dtype=torch.int64),
    }


def rank_main(rank, ranks, args, barrier, partials):
    def all_reduce(count, digest):
        partials[2 * rank], partials[2 * rank + 1] = count, digest
        barrier.wait()
        sums = sum(partials[0::2]), sum(partials[1::2])
        barrier.wait()  # nobody overwrites a slot before every rank has read it
        return sums

    with Publisher(args.bootstrap_servers, args.run + "-sharded", topic=args.snapshots_topic, grid=GRID) as publisher:
        for step in range(1, STEPS + 1):
            state = snapshot(step)
            shards = []
            for name, tensor in state.items():
                start, end = grid_range(tensor.numel(), GRID, rank, ranks)
                if end > start:
                    shards.append((name, start, tensor.reshape(-1)[start:end]))
            publisher.publish_shard(step, shards, layout(state), rank=rank, barrier=barrier.wait,
                                    all_reduce=all_reduce, end_of_run=step == STEPS, metadata={"ranks": str(ranks)})


def main():
    parser = service_args.parser()
    parser.add_argument("--ranks", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    with Publisher(args.bootstrap_servers, args.run + "-whole", topic=args.snapshots_topic, grid=GRID) as publisher:
        for step in range(1, STEPS + 1):
            publisher.publish(snapshot(step), step, end_of_run=step == STEPS)
    print(f"whole: {STEPS} snapshots published in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(args.ranks)
    partials = context.Array("q", 2 * args.ranks)
    ranks = [context.Process(target=rank_main, args=(r, args.ranks, args, barrier, partials), daemon=True)
             for r in range(args.ranks)]
    for p in ranks:
        p.start()
    deadline = time.monotonic() + 100
    while any(p.exitcode is None for p in ranks) and time.monotonic() < deadline:
        if any(p.exitcode not in (None, 0) for p in ranks):
            break  # the others wait at the barrier for it forever
        time.sleep(0.1)
    failed = [f"rank {r}: {'still running' if p.exitcode is None else f'exit {p.exitcode}'}"
              for r, p in enumerate(ranks) if p.exitcode != 0]
    if failed:
        raise AssertionError(f"sharded publishing failed: {failed}")
    print(f"sharded: {STEPS} snapshots published by {args.ranks} ranks in {time.perf_counter() - started:.1f} s")

    whole = load_ema(args.bootstrap_servers, args.run + "-whole", step=STEPS, topic=args.manifests_topic, timeout=90)
    sharded = load_ema(args.bootstrap_servers, args.run + "-sharded", step=STEPS, topic=args.manifests_topic, timeout=90)
    if list(whole) != list(sharded) or list(whole) != list(snapshot(1)):
        raise AssertionError(f"tensors: whole {list(whole)}, sharded {list(sharded)}")
    for name in whole:
        if not torch.equal(whole[name], sharded[name]):
            diff = (whole[name].double() - sharded[name].double()).abs().max().item()
            raise AssertionError(f"{name}: sharded EMA differs from the whole one by up to {diff}")
    # And it is the EMA of these snapshots, not merely the same wrong answer twice.
    expected = {n: t.float() for n, t in snapshot(1).items() if t.is_floating_point()}
    for step in range(2, STEPS + 1):
        for n, t in snapshot(step).items():
            if t.is_floating_point():
                expected[n] = args.decay * expected[n] + (1. - args.decay) * t.float()
    for name, want in expected.items():
        if not torch.allclose(whole[name], want, rtol=1e-6, atol=1e-6):
            raise AssertionError(f"{name}: EMA differs from the one computed here")
    if whole["counter"].item() != STEPS:
        raise AssertionError(f"counter {whole['counter']}, want {STEPS}")
    print(f"sharded: EMA of {args.ranks} ranks equals the whole-tensor EMA bit for bit ({len(whole)} tensors)")


if __name__ == "__main__":
    main()
