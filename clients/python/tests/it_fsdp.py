"""Against a running service: snapshots published by 2, 3 and 4 gloo processes, each holding
FSDP2-style uneven dim-0 shards of a model with odd shapes (and, for 3 ranks, a ZeRO-style flat
partition of its float32 tensors), on a grid of 16 elements so that most shard edges fall inside
grid cells, must give an EMA bitwise equal to one process publishing whole tensors. Shards that
leave elements out or hold some twice must be refused on every rank before anything is sent.
DTensor parameters are tried where the installed torch has them, and skipped with a message
where it does not (Debian's torch 1.13).

    python3 it_fsdp.py --bootstrap-servers B --snapshots-topic T --manifests-topic M --run R

The service must average with one profile. Exit status 0 when every run matches.
"""

import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from averager_client import PublishError, Publisher, layout, load_ema, local_shards, split_flat  # noqa: E402
import service_args  # noqa: E402

GRID = 16
STEPS = 3
WAIT_S = 120


def snapshot(step):
    """A state dict of odd shapes and every kind of dtype; the same on every rank."""
    g = torch.Generator().manual_seed(1000 + step)
    return {
        "embed.weight": torch.randn(37, 11, generator=g),
        "conv.weight": torch.randn(13, 3, 3, 3, generator=g),
        "conv.bias": torch.randn(13, generator=g),
        "norm.weight": torch.randn(5, generator=g).to(torch.bfloat16),
        "head.weight": torch.randn(7, 29, generator=g).to(torch.float16),
        "big.weight": torch.randn(1001, 3, generator=g),
        "temperature": torch.randn((), generator=g),
        "mask": torch.rand(9, 4, generator=g) > 0.5,
        "bn.num_batches_tracked": torch.tensor(step, dtype=torch.int64),
    }


def dim0_shards(state, rank, world):
    """FSDP2's sharding: rows split as torch.chunk does (ceil(rows / world) per rank, the last
    ranks short or empty); a scalar on rank 0."""
    shards = []
    for name, t in state.items():
        if t.dim() == 0:
            if rank == 0:
                shards.append((name, 0, t.reshape(-1)))
            continue
        rows = -(-t.shape[0] // world)
        lo, hi = min(rank * rows, t.shape[0]), min((rank + 1) * rows, t.shape[0])
        per_row = t[0].numel()
        shards.append((name, lo * per_row, t[lo:hi]))
    return shards


def zero_shards(state, rank, world):
    """ZeRO's: the float32 tensors flattened end to end and cut into equal partitions; the rest by rows."""
    flat_names = [n for n, t in state.items() if t.dtype == torch.float32]
    flat = torch.cat([state[n].reshape(-1) for n in flat_names])
    size = -(-flat.numel() // world)
    start = min(rank * size, flat.numel())
    partition = flat[start:start + size]
    shards = split_flat(partition, start, {n: state[n] for n in flat_names})
    rest = {n: t for n, t in state.items() if n not in flat_names}
    return shards + dim0_shards(rest, rank, world)


def dtensor_state(state, world):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor
    mesh = init_device_mesh("cpu", (world,))
    return {n: distribute_tensor(t, mesh, [Shard(0)] if t.dim() else [Replicate()]) for n, t in state.items()}


def rank_main(rank, world, how, run, args, init_file):
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        with Publisher(args.bootstrap_servers, run, topic=args.snapshots_topic, grid=GRID,
                       transactional_id=f"{run}-rank-{rank}") as publisher:
            if how == "gaps":
                state = snapshot(1)
                shards = [s for s in dim0_shards(state, rank, world) if not (s[0] == "conv.bias" and rank == world - 1)]
                try:
                    publisher.publish_shard(1, shards, layout(state))
                except PublishError as e:
                    if "tensor conv.bias: elements [" not in str(e) or "are in no rank's shard" not in str(e):
                        raise
                    return
                raise AssertionError("shards that leave elements of conv.bias out were published")
            for step in range(1, STEPS + 1):
                state = snapshot(step)
                if how == "dtensor":
                    infos, shards = local_shards(dtensor_state(state, world))
                else:
                    infos = layout(state)
                    shards = (zero_shards if how == "zero" else dim0_shards)(state, rank, world)
                publisher.publish_shard(step, shards, infos, end_of_run=step == STEPS)
    finally:
        dist.destroy_process_group()


def publish_sharded(world, how, run, args):
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        init_file = Path(tmp) / "init"
        ranks = [context.Process(target=rank_main, args=(r, world, how, run, args, str(init_file)), daemon=True)
                 for r in range(world)]
        for p in ranks:
            p.start()
        deadline = time.monotonic() + WAIT_S
        while any(p.exitcode is None for p in ranks) and time.monotonic() < deadline:
            if any(p.exitcode not in (None, 0) for p in ranks):
                break
            time.sleep(0.1)
        failed = [f"rank {r}: {'still running' if p.exitcode is None else f'exit {p.exitcode}'}"
                  for r, p in enumerate(ranks) if p.exitcode != 0]
        for p in ranks:
            p.kill()
        if failed:
            raise AssertionError(f"{how} publishing by {world} ranks failed: {failed}")


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(
        a.contiguous().reshape(-1).view(torch.uint8), b.contiguous().reshape(-1).view(torch.uint8))


def main():
    parser = service_args.parser()
    args = parser.parse_args()

    whole_run = args.run + "-whole"
    with Publisher(args.bootstrap_servers, whole_run, topic=args.snapshots_topic, grid=GRID) as publisher:
        for step in range(1, STEPS + 1):
            publisher.publish(snapshot(step), step, end_of_run=step == STEPS)

    publish_sharded(2, "gaps", args.run + "-gaps", args)
    print("shards leaving elements out: refused on every rank, naming the tensor")

    sharded = [(w, "fsdp") for w in (2, 3, 4)] + [(3, "zero")]
    try:
        from torch.distributed.tensor import DTensor  # noqa: F401
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset  # noqa: F401
        sharded.append((3, "dtensor"))
    except ImportError:
        print(f"DTensor: skipped, torch {torch.__version__} has no torch.distributed.tensor (needs 2.4 or newer)")
    for world, how in sharded:
        publish_sharded(world, how, f"{args.run}-{how}-{world}", args)

    whole = load_ema(args.bootstrap_servers, whole_run, step=STEPS, topic=args.manifests_topic, timeout=WAIT_S)
    if list(whole) != list(snapshot(1)):
        raise AssertionError(f"whole run's tensors {list(whole)}")
    for world, how in sharded:
        ema = load_ema(args.bootstrap_servers, f"{args.run}-{how}-{world}", step=STEPS, topic=args.manifests_topic,
                       timeout=WAIT_S)
        if list(ema) != list(whole):
            raise AssertionError(f"{how} by {world} ranks: tensors {list(ema)}, want {list(whole)}")
        for name in whole:
            if not same_bits(ema[name], whole[name]):
                raise AssertionError(f"{how} by {world} ranks: {name} differs from the whole-tensor EMA")
        print(f"{how} shards of {world} ranks: EMA bitwise equal to the whole-tensor one ({len(whole)} tensors)")


if __name__ == "__main__":
    main()
