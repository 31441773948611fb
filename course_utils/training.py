"""Fine-tuning after a head swap, on the GPU when there is one.

:func:`fine_tune` has two modes:

* ``mode="head"`` (feature extraction): the backbone is frozen and kept in
  eval mode. Because it never changes, its features are computed once and the
  head trains on the cached features: same result as running the whole
  network every epoch (tested), many times faster.
* ``mode="full"``: every layer trains, the backbone with a smaller learning
  rate than the new head (``backbone_lr_factor``), so the pretrained features
  are adjusted rather than overwritten.

On CUDA it uses mixed precision (bf16 where supported, else fp16 with a
gradient scaler), channels_last, pinned memory and non-blocking copies. On the
CPU it is seeded and deterministic.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from course_utils import heads
from course_utils._validate import check_model, check_positive_int, check_positive_number, shown
from course_utils.freezing import freeze_backbone, unfreeze

__all__ = [
    "History",
    "as_tensors",
    "evaluate",
    "fine_tune",
    "load_checkpoint",
    "save_checkpoint",
    "select_device",
]

Mode = Literal["head", "full"]
DataLike = Dataset | tuple[torch.Tensor, torch.Tensor]


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; an explicit device must exist."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {shown(device)}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for, but no CUDA GPU is available: use 'auto' or 'cpu'"
        )
    if dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError(
            f"device {device!r} asked for, but MPS is not available: use 'auto' or 'cpu'"
        )
    return dev


def as_tensors(data: DataLike, name: str = "data") -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, int64 labels) from an ImageSet, a (x, y) pair or any map-style Dataset."""
    if isinstance(data, tuple) and len(data) == 2:
        x, y = data
    elif hasattr(data, "tensors") and callable(data.tensors):
        x, y = data.tensors()
    elif isinstance(data, Dataset):
        items = [data[i] for i in range(len(data))]  # type: ignore[arg-type]
        if not items:
            raise ValueError(f"{name} is empty: fine-tuning needs at least one labelled example")
        x = torch.stack([torch.as_tensor(a) for a, _ in items])
        y = torch.as_tensor([int(b) for _, b in items])
    else:
        raise TypeError(
            f"{name} must be a Dataset or an (inputs, labels) pair, got {type(data).__name__}: "
            f"{shown(data)}"
        )
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if len(x) == 0:
        raise ValueError(f"{name} is empty: fine-tuning needs at least one labelled example")
    if len(x) != len(y):
        raise ValueError(f"{name} has {len(x)} inputs but {len(y)} labels: lengths must match")
    if y.dtype.is_floating_point or y.ndim != 1:
        raise ValueError(
            f"{name} labels must be a 1-D integer tensor, got {y.dtype} of shape {tuple(y.shape)}"
        )
    return x, y.long()


@dataclass
class History:
    """What happened, epoch by epoch: ``rows`` of train/val loss and accuracy."""

    mode: str
    device: str
    cached: bool
    rows: list[dict[str, float]] = field(default_factory=list)
    feature_seconds: float = 0.0
    seconds: float = 0.0
    stopped_early: bool = False
    best_epoch: int | None = None

    def __getitem__(self, key: str) -> list[float]:
        return [row[key] for row in self.rows if key in row]

    @property
    def final(self) -> dict[str, float]:
        return self.rows[-1] if self.rows else {}

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def plot(self, ax=None):
        """Train/validation curves (loss and accuracy); returns what plots.training_curves returns."""
        from course_utils import plots

        return plots.training_curves(self, ax=ax)

    def __str__(self) -> str:
        last = ", ".join(
            f"{k}={v:.3f}" for k, v in self.final.items() if k not in ("epoch", "seconds")
        )
        return f"History(mode={self.mode}, epochs={len(self.rows)}, cached={self.cached}, {last})"


def _check_labels(y: torch.Tensor, num_outputs: int, name: str, data: Any) -> None:
    if int(y.min()) < 0 or int(y.max()) >= num_outputs:
        raise ValueError(
            f"{name} labels range over [{int(y.min())}, {int(y.max())}] but the head has "
            f"{num_outputs} outputs (valid labels 0..{num_outputs - 1}). "
            f"Replace the head with one output per class: replace_head(model, num_classes)."
        )
    classes = getattr(data, "classes", None)
    if classes is not None and len(classes) != num_outputs:
        raise ValueError(
            f"the head has {num_outputs} outputs but {name} has {len(classes)} classes "
            f"{list(classes)}: use replace_head(model, {len(classes)})."
        )


def _check_device(x: torch.Tensor, device: torch.device, name: str) -> None:
    if x.device.type != "cpu" and x.device != device:
        raise ValueError(
            f"{name} lives on {x.device} but the model trains on {device}: keep the data on the CPU "
            "(fine_tune moves batches) or pass device= the data's device."
        )


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextlib.contextmanager
def _headless(model: nn.Module, path: str) -> Iterator[nn.Module]:
    head = heads.get_module(model, path)
    heads.set_module(model, path, nn.Identity())
    try:
        yield model
    finally:
        heads.set_module(model, path, head)


class _Runner:
    """Device placement, autocast and batching, shared by training and evaluation."""

    def __init__(self, device: torch.device, amp: bool | str):
        self.device = device
        if amp == "auto":
            amp = device.type == "cuda"
        self.amp = bool(amp) and device.type == "cuda"
        bf16 = self.amp and torch.cuda.is_bf16_supported()
        self.dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and not bf16)

    def autocast(self):
        return torch.autocast("cuda", dtype=self.dtype) if self.amp else contextlib.nullcontext()

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.device.type == "cuda" and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.pin_memory() if self.device.type == "cuda" and x.device.type == "cpu" else x

    def batches(
        self, n: int, batch_size: int, generator: torch.Generator | None
    ) -> list[torch.Tensor]:
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        return list(order.split(batch_size))

    @torch.no_grad()
    def predict(self, model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        outs = []
        for idx in self.batches(len(x), batch_size, None):
            with self.autocast():
                out = model(self.to_device(x[idx]))
            outs.append(out.float().cpu())
        return torch.cat(outs)


def _head_is_last_step(
    model: nn.Module, head_path: str, probe: torch.Tensor, runner: _Runner
) -> bool:
    """True when ``model(x) == head(features(x))``, so cached features give the same training."""
    head = heads.get_module(model, head_path)
    if not isinstance(head, nn.Linear):
        return False  # a conv head (SqueezeNet) is followed by ReLU and pooling: nothing to cache
    with torch.no_grad(), runner.autocast():
        x = runner.to_device(probe)
        direct = model(x).float()
        with _headless(model, head_path):
            via_head = head(model(x)).float()
    tol = 1e-2 if runner.amp else 1e-4
    return direct.shape == via_head.shape and torch.allclose(direct, via_head, atol=tol, rtol=tol)


def _features(model: nn.Module, head_path: str, x: torch.Tensor, runner: _Runner) -> torch.Tensor:
    """What the backbone hands to the head, for every sample (computed once, in eval mode)."""
    with _headless(model, head_path):
        return runner.predict(model, x, 256)


def fine_tune(
    model: nn.Module,
    train: DataLike,
    val: DataLike | None = None,
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    mode: Mode = "head",
    device: str | torch.device = "auto",
    batch_size: int = 64,
    backbone_lr_factor: float = 0.1,
    weight_decay: float = 0.0,
    seed: int = 0,
    early_stopping: int | None = None,
    cache_features: bool = True,
    amp: bool | str = "auto",
    progress: bool = False,
) -> History:
    """Train ``model`` (whose head was already replaced) on ``train``; returns the :class:`History`.

    ``mode="head"`` freezes everything but the head; ``mode="full"`` trains
    all layers (backbone at ``lr * backbone_lr_factor``). ``early_stopping=k``
    stops after ``k`` epochs without a better validation loss and restores the
    best weights. The model is left on ``device``.
    """
    check_model(model)
    if mode not in ("head", "full"):
        raise ValueError(f"mode must be 'head' (feature extraction) or 'full', got {mode!r}")
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_positive_number("lr", lr)
    if early_stopping is not None and val is None:
        raise ValueError("early_stopping needs validation data: pass val=")
    dev = select_device(device)
    runner = _Runner(dev, amp)
    info = heads.find_head(model)
    xtr, ytr = as_tensors(train, "train")
    _check_device(xtr, dev, "train")
    _check_labels(ytr, info.out_features, "train", train)
    if val is not None:
        xva, yva = as_tensors(val, "val")
        _check_device(xva, dev, "val")
        _check_labels(yva, info.out_features, "val", val)

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
    xtr = runner.prepare(xtr)
    head = info.module
    history = History(mode=mode, device=str(dev), cached=False)
    start = time.perf_counter()

    if mode == "head":
        freeze_backbone(model, info.path)
        model.eval()  # a frozen backbone must not update BatchNorm statistics
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        if cache_features and _head_is_last_step(model, info.path, xtr[:4], runner):
            feats = _features(model, info.path, xtr, runner)
            fva = _features(model, info.path, xva, runner) if val is not None else None
            history.cached = True
            history.feature_seconds = round(time.perf_counter() - start, 3)
            train_net, xtr_run, xva_run = head, feats, fva
        else:
            train_net, xtr_run = model, xtr
            xva_run = xva if val is not None else None
    else:
        unfreeze(model)
        head_ids = {id(p) for p in head.parameters()}
        backbone = [p for p in model.parameters() if id(p) not in head_ids]
        opt = torch.optim.AdamW(
            [
                {"params": backbone, "lr": lr * backbone_lr_factor},
                {"params": list(head.parameters())},
            ],
            lr=lr,
            weight_decay=weight_decay,
        )
        train_net, xtr_run = model, xtr
        xva_run = xva if val is not None else None

    best = (math.inf, None, None)
    bad_epochs = 0
    bar = _progress(epochs, progress, mode)
    for epoch in range(1, epochs + 1):
        if mode == "full":
            model.train()
        total_loss, correct = 0.0, 0
        for idx in runner.batches(len(ytr), batch_size, generator):
            xb, yb = runner.to_device(xtr_run[idx]), ytr[idx].to(dev, non_blocking=True)
            with runner.autocast():
                logits = train_net(xb)
                loss = nn.functional.cross_entropy(logits.float(), yb)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} at epoch {epoch}: the learning rate ({lr}) is "
                    "probably too high, or the inputs contain NaN. Lower lr and check the data."
                )
            opt.zero_grad(set_to_none=True)
            runner.scaler.scale(loss).backward()
            runner.scaler.step(opt)
            runner.scaler.update()
            total_loss += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        row = {"epoch": epoch, "train_loss": total_loss / len(ytr), "train_acc": correct / len(ytr)}
        if val is not None:
            with _eval_mode(model):
                logits = runner.predict(train_net, xva_run, 256)
            row["val_loss"] = float(nn.functional.cross_entropy(logits, yva))
            row["val_acc"] = float((logits.argmax(1) == yva).float().mean())
        row["seconds"] = round(time.perf_counter() - start, 3)
        history.rows.append(row)
        bar.update(1)
        if val is not None and early_stopping is not None:
            if row["val_loss"] < best[0]:
                best = (row["val_loss"], epoch, copy.deepcopy(model.state_dict()))
                bad_epochs = 0
            else:
                bad_epochs += 1
                if bad_epochs >= early_stopping:
                    history.stopped_early = True
                    break
    bar.close()
    if best[2] is not None:
        model.load_state_dict(best[2])
        history.best_epoch = best[1]
    elif val is not None:
        history.best_epoch = int(np.argmin(history["val_loss"])) + 1
    model.eval()
    history.seconds = round(time.perf_counter() - start, 3)
    return history


def _progress(total: int, enabled: bool, mode: str):
    from tqdm.auto import tqdm

    # stdout, never stderr: nbgrader scores a test cell 0 when it writes to stderr.
    return tqdm(
        total=total, disable=not enabled, file=sys.stdout, desc=f"fine-tune ({mode})", unit="epoch"
    )


def evaluate(
    model: nn.Module, data: DataLike, *, device: str | torch.device = "auto", batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels, predictions, probabilities)`` as numpy arrays, the model in eval mode meanwhile."""
    check_model(model)
    x, y = as_tensors(data)
    dev = select_device(device)
    runner = _Runner(dev, amp="auto")
    model.to(dev)
    with _eval_mode(model):
        probs = torch.softmax(runner.predict(model, runner.prepare(x), batch_size), dim=1)
    return y.numpy(), probs.argmax(1).numpy(), probs.numpy()


def save_checkpoint(
    model: nn.Module, path: str | Path, *, history: History | None = None, overwrite: bool = False
) -> Path:
    """Save the weights (and history); refuses to replace an existing file unless ``overwrite=True``."""
    check_model(model)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} exists: pass overwrite=True to replace it, or choose another name"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"state_dict": model.state_dict(), "history": history.to_dict() if history else None}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a crash never leaves half a checkpoint under the real name
    return path


def load_checkpoint(model: nn.Module, path: str | Path) -> History | None:
    """Load weights saved by :func:`save_checkpoint` into ``model``; returns the saved history."""
    check_model(model)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ValueError(f"{path} is not a course checkpoint (saved by save_checkpoint)")
    model.load_state_dict(payload["state_dict"])
    saved = payload.get("history")
    return History(**saved) if saved else None
