"""Client for averager: publish snapshots of a model's weights from a PyTorch training loop, and
load the EMA checkpoints the service writes.

    from averager_client import Publisher, load_ema

    with Publisher("kafka:9092", run_id="run-42") as publisher:
        for step, batch in enumerate(loader, start=1):
            ...  # forward, backward, optimizer.step()
            publisher.publish(model, step, end_of_run=(step == last))

    model.load_state_dict(load_ema("kafka:9092", "run-42", profile="ema"))

    for checkpoint in subscribe("kafka:9092", run_id="run-42", group="eval-run-42"):
        model.load_state_dict(checkpoint.load())  # every new EMA checkpoint, as it lands
"""

from .errors import AveragerError, CheckpointError, PublishError
from .loader import find_checkpoint, list_checkpoints, load_ema, load_manifest, read_safetensors
from .publisher import DEFAULT_GRID, Publisher
from .shards import local_shards, split_flat
from .subscriber import Checkpoint, Subscription, subscribe
from .tensors import TensorInfo, grid_range, layout

__version__ = "0.1.0"

__all__ = [
    "AveragerError", "CheckpointError", "PublishError",
    "Publisher", "TensorInfo", "DEFAULT_GRID", "grid_range", "layout", "local_shards", "split_flat",
    "load_ema", "list_checkpoints", "find_checkpoint", "load_manifest", "read_safetensors",
    "subscribe", "Subscription", "Checkpoint",
]
