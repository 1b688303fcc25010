"""Against a running service: a real torch.nn model with BatchNorm trained for a few steps,
publishing every step; the EMA loaded back with load_ema must load into the model with
strict=True and equal the EMA computed here by a transcription of timm's ModelEmaV2, at the end
and at the step the loop asks to checkpoint (the service's cadence is off). Then a
state dict of every wire dtype, published every other step, and a failure in the background
thread that must surface.

    python3 it_training_loop.py --bootstrap-servers B --snapshots-topic T --manifests-topic M
        --run R --decay D

The service must average with one profile of that decay, unit snapshot, no warmup. Exit status 0
when everything matches.
"""

import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from averager_client import (CheckpointError, Publisher, PublishError, find_checkpoint, list_checkpoints,  # noqa: E402
                             load_ema, read_safetensors)
from averager_client.loader import read_file  # noqa: E402
import service_args  # noqa: E402

STEPS = 30
SAVED_AT = 12  # where the trainer saves its own checkpoint, and asks for the EMA's
TOLERANCE = 1e-6


class ModelEmaV2:
    """timm.utils.ModelEmaV2, transcribed, with the service's two departures: the first update
    copies the weights (the first snapshot of a run sets the EMA; timm starts from the weights at
    construction), and integer buffers take the latest value (timm averages num_batches_tracked
    and truncates). Float tensors: e = d * e + (1 - d) * m."""

    def __init__(self, model, decay):
        self.module = copy.deepcopy(model).eval()
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model):
        self.updates += 1
        for ema_v, model_v in zip(self.module.state_dict().values(), model.state_dict().values()):
            if self.updates == 1:
                ema_v.copy_(model_v)
            elif ema_v.is_floating_point():
                ema_v.copy_(self.decay * ema_v + (1. - self.decay) * model_v)
            else:
                ema_v.copy_(model_v)


def assert_close(name, got, want):
    if got.dtype != want.dtype or got.shape != want.shape:
        raise AssertionError(f"{name}: got {got.dtype}{list(got.shape)}, want {want.dtype}{list(want.shape)}")
    if want.is_floating_point():
        bound = TOLERANCE * want.double().abs().clamp(min=1)
        worst = ((got.double() - want.double()).abs() / bound).max().item() if want.numel() else 0
        if worst > 1:
            raise AssertionError(f"{name}: differs by {worst:.3g} x the tolerance\n got  {got}\n want {want}")
    elif not torch.equal(got, want):
        raise AssertionError(f"{name}: got {got}, want {want}")


def training_loop(args):
    torch.manual_seed(1234)
    model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    true_w = torch.randn(8, 1)
    ema = ModelEmaV2(model, decay=args.decay)
    publish_wait = 0.0
    # A grid of 64 elements splits the weights into several chunks.
    with Publisher(args.bootstrap_servers, args.run, topic=args.snapshots_topic, grid=64) as publisher:
        for step in range(1, STEPS + 1):
            x = torch.randn(64, 8)
            y = x @ true_w + 0.1 * torch.randn(64, 1)
            loss = nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            ema.update(model)
            started = time.perf_counter()
            publisher.publish(model, step, end_of_run=step == STEPS, checkpoint=step == SAVED_AT,
                              metadata={"arch": "mlp-bn"})
            publish_wait += time.perf_counter() - started
            if step == SAVED_AT:
                saved = copy.deepcopy(ema.module.state_dict())
    print(f"training loop: {STEPS} steps published, {publish_wait * 1000:.1f} ms in publish(), last loss {loss.item():.4f}")

    started = time.perf_counter()
    # The step, not the latest: the checkpoint asked for at SAVED_AT may be the only one yet.
    state = load_ema(args.bootstrap_servers, args.run, step=STEPS, topic=args.manifests_topic, timeout=90)
    print(f"training loop: EMA of step {STEPS} loaded in {time.perf_counter() - started:.1f} s: {list(state)}")
    evaluated = copy.deepcopy(model)
    evaluated.load_state_dict(state, strict=True)
    expected = ema.module.state_dict()
    if list(state) != list(expected):
        raise AssertionError(f"tensors {list(state)}, want {list(expected)}")
    for name, want in expected.items():
        assert_close(name, evaluated.state_dict()[name], want)
    if state["1.num_batches_tracked"].item() != STEPS:
        raise AssertionError(f"num_batches_tracked {state['1.num_batches_tracked']}, want {STEPS}")
    print("training loop: EMA matches ModelEmaV2")

    state = load_ema(args.bootstrap_servers, args.run, step=SAVED_AT, topic=args.manifests_topic, timeout=90)
    for name, want in saved.items():
        assert_close(name, state[name], want)
    print(f"training loop: EMA checkpointed on request at step {SAVED_AT} matches ModelEmaV2's then")


def every_dtype(args):
    run = args.run + "-dtypes"
    dtypes = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.int16,
              torch.int8, torch.uint8, torch.bool]

    def snapshot(step):
        g = torch.Generator().manual_seed(step)
        state = {}
        for dtype in dtypes:
            name = str(dtype).replace("torch.", "t_")
            if dtype.is_floating_point:
                state[name] = torch.randn(3, 5, generator=g).to(dtype)
            elif dtype == torch.bool:
                state[name] = torch.randint(0, 2, (7,), generator=g).bool()
            else:
                state[name] = torch.randint(0, 100, (2, 2), generator=g).to(dtype)
        state["scalar"] = torch.tensor(float(step))
        state["empty"] = torch.zeros(0, 4)
        state["strided"] = torch.arange(12.0 * step, 12.0 * step + 12).reshape(3, 4).t()
        return state

    expected = None
    with Publisher(args.bootstrap_servers, run, every=2, topic=args.snapshots_topic, grid=4, queue_size=1) as publisher:
        for step in range(1, 6):
            state = snapshot(step)
            if publisher.publish(state, step, end_of_run=step == 5):
                if expected is None:
                    expected = {n: t.float() if t.dtype in (torch.float16, torch.bfloat16) else t.clone()
                                for n, t in state.items()}
                else:
                    for n, t in state.items():
                        if t.is_floating_point():
                            m = t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
                            expected[n] = args.decay * expected[n] + (1. - args.decay) * m
                        else:
                            expected[n] = t.clone()
            elif step % 2 and step != 5:
                pass
            else:
                raise AssertionError(f"step {step} not published with every=2")
    loaded = load_ema(args.bootstrap_servers, run, profile=None, step=5, topic=args.manifests_topic, timeout=90)
    if list(loaded) != list(expected):
        raise AssertionError(f"tensors {list(loaded)}, want {list(expected)}")
    for name, want in expected.items():
        assert_close(name, loaded[name], want.contiguous())
    print(f"every dtype: {len(loaded)} tensors of steps 2, 4 and 5 averaged as expected")


def resumed(args):
    """A trainer that dies after step 10 resumes from its own checkpoint at step 6, which it had
    published with checkpoint=True: Publisher(resume_from_step=6) with the dead one's
    transactional id, then steps 7.. again with other weights. The EMA checkpoint it had asked
    for at step 10 is superseded: never the latest, and named as such. The EMA of step 12 must be
    that of steps 1..6 and the new 7..12, without the abandoned 7..10."""
    run = args.run + "-resumed"
    transactional_id = f"averager-it-{run}-rank0"

    def weights(step, attempt):
        g = torch.Generator().manual_seed(step * 10 + attempt)
        return {"w": torch.randn(5, 3, generator=g), "steps": torch.tensor(step)}

    with Publisher(args.bootstrap_servers, run, topic=args.snapshots_topic, transactional_id=transactional_id) as first:
        for step in range(1, 11):
            first.publish(weights(step, 0), step, checkpoint=step in (6, 10))
    try:
        Publisher(args.bootstrap_servers, run, topic=args.snapshots_topic, transactional_id=transactional_id,
                  resume_from_step=3, run_events_topic=args.run_events_topic)
        raise AssertionError("a resume from step 3, below every restore point of the run, was accepted")
    except PublishError as e:
        if "no step below it can be restored; the nearest above it is 6" not in str(e):
            raise AssertionError(f"the refusal does not name the nearest step: {e}") from e
        print(f"resumed: a resume from step 3 is refused: {e}")
    with Publisher(args.bootstrap_servers, run, topic=args.snapshots_topic, transactional_id=transactional_id,
                   resume_from_step=6, run_events_topic=args.run_events_topic) as second:
        try:
            second.publish(weights(6, 1), 6)
            raise AssertionError("a step not after resume_from_step was accepted")
        except ValueError:
            pass
        manifests = list_checkpoints(args.bootstrap_servers, run, topic=args.manifests_topic, timeout=90,
                                     wanted=lambda ms: any(m["step"] == 10 for m in ms),
                                     run_events_topic=args.run_events_topic)
        at10 = [m for m in manifests if m["step"] == 10]
        if not at10 or not at10[0]["superseded"] or at10[0]["superseded"]["toStep"] != 6:
            raise AssertionError(f"the checkpoint of the abandoned step 10 is not marked superseded: {at10}")
        if find_checkpoint(manifests, run)["step"] != 6:
            raise AssertionError("the latest live checkpoint after the resume is not that of step 6")
        try:
            load_ema(args.bootstrap_servers, run, step=10, topic=args.manifests_topic,
                     run_events_topic=args.run_events_topic)
            raise AssertionError("load_ema returned the superseded checkpoint of step 10")
        except CheckpointError as e:
            print(f"resumed: the abandoned step 10 is not loaded: {e}")
        for step in range(7, 13):
            second.publish(weights(step, 1), step, end_of_run=step == 12)

    expected = None
    for step, attempt in [(s, 0) for s in range(1, 7)] + [(s, 1) for s in range(7, 13)]:
        w = weights(step, attempt)
        if expected is None:
            expected = {n: t.clone() for n, t in w.items()}
        else:
            expected["w"] = args.decay * expected["w"] + (1. - args.decay) * w["w"]
            expected["steps"] = w["steps"].clone()
    loaded = load_ema(args.bootstrap_servers, run, step=12, topic=args.manifests_topic, timeout=90,
                      run_events_topic=args.run_events_topic)
    for name, want in expected.items():
        assert_close(name, loaded[name], want)
    print("resumed: EMA of step 12 is that of steps 1..6 and the resumed 7..12")


def forked(args):
    """A run forked with Publisher(fork_from=(the resumed run, 12)) starts from that run's EMA at 12:
    after steps 13..15 of its own, its EMA is the rule applied to the parent's checkpoint, and its
    checkpoint names the parent. A fork from a step without a checkpoint is refused."""
    parent = args.run + "-resumed"
    run = args.run + "-forked"
    try:
        Publisher(args.bootstrap_servers, run + "-refused", topic=args.snapshots_topic, fork_from=(parent, 11),
                  run_events_topic=args.run_events_topic)
        raise AssertionError("a fork from step 11, which the parent has no checkpoint of, was accepted")
    except PublishError as e:
        if "has no live checkpoint at step 11" not in str(e):
            raise AssertionError(f"the refusal does not say why: {e}") from e
    expected = load_ema(args.bootstrap_servers, parent, step=12, topic=args.manifests_topic, timeout=90,
                        run_events_topic=args.run_events_topic)
    with Publisher(args.bootstrap_servers, run, topic=args.snapshots_topic, fork_from=(parent, 12),
                   run_events_topic=args.run_events_topic) as publisher:
        print(f"forked: {publisher.fork_answer}")
        for step in range(13, 16):
            g = torch.Generator().manual_seed(step * 100)
            w = {"w": torch.randn(5, 3, generator=g), "steps": torch.tensor(step)}
            publisher.publish(w, step, end_of_run=step == 15)
            expected["w"] = args.decay * expected["w"] + (1. - args.decay) * w["w"]
            expected["steps"] = w["steps"].clone()
    manifests = list_checkpoints(args.bootstrap_servers, run, topic=args.manifests_topic, timeout=90,
                                 wanted=lambda ms: any(m["step"] == 15 for m in ms),
                                 run_events_topic=args.run_events_topic)
    manifest = find_checkpoint(manifests, run, step=15)
    tensors, metadata = read_safetensors(read_file(manifest["uri"]))
    for name, want in expected.items():
        assert_close(name, tensors[name], want)
    if metadata.get("forked_from") != parent or metadata.get("forked_from_step") != "12":
        raise AssertionError(f"the forked run's checkpoint does not name its parent: {metadata}")
    print("forked: EMA of step 15 is the parent's of step 12 and the forked steps 13..15")


class Compiled(nn.Module):
    """What torch.compile wraps a model in, as far as its state dict goes (``_orig_mod.``); the
    installed torch may have no torch.compile."""

    def __init__(self, module):
        super().__init__()
        self._orig_mod = module

    def forward(self, x):
        return self._orig_mod(x)


def wrapped_names(args):
    """A model wrapped as DataParallel(torch.compile(model)) publishes under the bare model's
    names; with exclude its head is in no checkpoint, with copy its BatchNorm statistics are the
    last step's bit for bit while the rest is averaged."""
    run = args.run + "-wrapped"
    torch.manual_seed(99)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6))
    model.add_module("head", nn.Linear(6, 1))
    wrapped = nn.DataParallel(Compiled(model))
    if not all(n.startswith("module._orig_mod.") for n in wrapped.state_dict()):
        raise AssertionError(f"the wrapper does not prefix its state dict: {list(wrapped.state_dict())}")
    optimizer = torch.optim.SGD(wrapped.parameters(), lr=0.1)
    expected = None
    with Publisher(args.bootstrap_servers, run, topic=args.snapshots_topic, grid=8,
                   exclude=[r"^head\."], copy=r"running_(mean|var)$") as publisher:
        for step in range(1, 6):
            loss = wrapped(torch.randn(16, 4)).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            publisher.publish(wrapped, step, end_of_run=step == 5)
            state = {n: t.clone() for n, t in model.state_dict().items() if not n.startswith("head.")}
            if expected is None:
                expected = state
                continue
            for n, t in state.items():
                if t.is_floating_point() and "running_" not in n:
                    expected[n] = args.decay * expected[n] + (1. - args.decay) * t
                else:
                    expected[n] = t
    loaded = load_ema(args.bootstrap_servers, run, step=5, topic=args.manifests_topic, timeout=90)
    if list(loaded) != list(expected):
        raise AssertionError(f"tensors {list(loaded)}, want {list(expected)}")
    for name, want in expected.items():
        assert_close(name, loaded[name], want)
    for name in ("1.running_mean", "1.running_var"):
        if not torch.equal(loaded[name], model.state_dict()[name]):
            raise AssertionError(f"{name} is not the last step's: {loaded[name]} against {model.state_dict()[name]}")
    result = copy.deepcopy(model).load_state_dict(loaded, strict=False)
    if sorted(result.missing_keys) != ["head.bias", "head.weight"] or result.unexpected_keys:
        raise AssertionError(f"loading into the bare model: {result}")
    print(f"wrapped names: {list(loaded)} load into the bare model, head excluded, BatchNorm statistics copied")


def signed(args):
    """A run of a prefix the service takes signed records only for: snapshots published with the
    prefix's key average as before; an unsigned SET into the run, by a publisher without the key,
    changes nothing."""
    if not args.signing_key:
        return
    run = args.signed_run

    def weights(step):
        return {"w": torch.arange(6, dtype=torch.float32) * step, "n": torch.tensor(step)}

    expected = None
    with Publisher(args.bootstrap_servers, run, topic=args.snapshots_topic, signing_key=args.signing_key) as publisher:
        for step in (1, 2, 3):
            publisher.publish(weights(step), step)
    with Publisher(args.bootstrap_servers, run, topic=args.snapshots_topic) as intruder:
        intruder.publish({"w": torch.full((6,), 1000.0), "n": torch.tensor(4)}, 4, mode="set")
    with Publisher(args.bootstrap_servers, run, topic=args.snapshots_topic, signing_key=args.signing_key) as publisher:
        publisher.publish(weights(5), 5, end_of_run=True)
    for step in (1, 2, 3, 5):
        w = weights(step)
        if expected is None:
            expected = {n: t.clone() for n, t in w.items()}
        else:
            expected["w"] = args.decay * expected["w"] + (1. - args.decay) * w["w"]
            expected["n"] = w["n"].clone()
    loaded = load_ema(args.bootstrap_servers, run, step=5, topic=args.manifests_topic, timeout=90)
    for name, want in expected.items():
        assert_close(name, loaded[name], want)
    print("signed: the EMA of steps 1, 2, 3 and 5, published with the key; the unsigned SET of step 4 changed nothing")


def failure_surfaces(args):
    publisher = Publisher(args.bootstrap_servers, args.run + "-failing", topic=args.snapshots_topic,
                          **{"message.max.bytes": 1000})
    publisher.publish({"w": torch.zeros(1000)}, 1)
    try:
        publisher.flush()
    except PublishError as e:
        print(f"failure surfaces: flush raised {e}")
    else:
        raise AssertionError("a chunk larger than message.max.bytes was published without error")
    try:
        publisher.publish({"w": torch.zeros(1)}, 2)
        raise AssertionError("publish after a failure did not raise")
    except PublishError:
        pass
    try:
        publisher.close()
        raise AssertionError("close after a failure did not raise")
    except PublishError:
        pass


def main():
    parser = service_args.parser()
    parser.add_argument("--signing-key", help="hex key of --signed-run's prefix")
    parser.add_argument("--signed-run")
    args = parser.parse_args()
    training_loop(args)
    every_dtype(args)
    resumed(args)
    forked(args)
    wrapped_names(args)
    signed(args)
    failure_surfaces(args)


if __name__ == "__main__":
    main()
