"""Pretrain the course backbone (ResNet-18) on the 24-class source shapes.

``course pretrain`` calls :func:`pretrain`. Every epoch renders fresh images
(a new seed per epoch), so the network never sees the same picture twice and
learns shape, not memorised pixels. The result is saved in half precision
(ResNet-18 has 11.7 M parameters: 47 MB in fp32, 23 MB in fp16) with a JSON
manifest holding its SHA-256 and how it was made.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn

from course_utils import shapes
from course_utils.data import to_tensor


@dataclass
class PretrainConfig:
    epochs: int = 20
    per_class: int = 1500
    batch_size: int = 128
    lr: float = 0.1
    weight_decay: float = 5e-4
    seed: int = 0


def _probe_accuracy(backbone: nn.Module, seed: int) -> float:
    """Linear probe on the target flowers: how well frozen features transfer."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    fc, backbone.fc = backbone.fc, nn.Identity()
    backbone.eval()
    with torch.no_grad():
        xtr, ytr = shapes.generate(shapes.TARGET_CLASSES, 100, seed + 1001)
        xte, yte = shapes.generate(shapes.TARGET_CLASSES, 100, seed + 1002)
        ftr, fte = backbone(to_tensor(xtr)).numpy(), backbone(to_tensor(xte)).numpy()
    backbone.fc = fc
    scaler = StandardScaler().fit(ftr)
    clf = LogisticRegression(max_iter=3000, C=0.1).fit(scaler.transform(ftr), ytr)
    return float(clf.score(scaler.transform(fte), yte))


def pretrain(
    out: Path,
    config: PretrainConfig | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Train ResNet-18 on the source shapes and write ``out`` (+ ``out.json``)."""
    cfg = config or PretrainConfig()
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    model = torchvision.models.resnet18(num_classes=len(shapes.SOURCE_CLASSES))
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
    )
    n_classes = len(shapes.SOURCE_CLASSES)
    steps = cfg.epochs * (cfg.per_class * n_classes // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15
    )
    xval, yval = shapes.generate(shapes.SOURCE_CLASSES, 100, cfg.seed + 999, family="source")
    xval_t, yval_t = to_tensor(xval), torch.from_numpy(yval)
    start = time.perf_counter()
    history = []
    for epoch in range(cfg.epochs):
        x, y = shapes.generate(
            shapes.SOURCE_CLASSES, cfg.per_class, cfg.seed * 1000 + epoch, family="source"
        )
        model.train()
        perm = np.arange(len(y))
        total = 0.0
        for i in range(0, len(y) - cfg.batch_size + 1, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            xb = to_tensor(x[idx]).contiguous(memory_format=torch.channels_last)
            loss = nn.functional.cross_entropy(
                model(xb), torch.from_numpy(y[idx]), label_smoothing=0.1
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            val_acc = float((model(xval_t).argmax(1) == yval_t).float().mean())
        row = {
            "epoch": epoch + 1,
            "train_loss": total / len(y),
            "source_val_acc": val_acc,
            "seconds": round(time.perf_counter() - start, 1),
        }
        if (epoch + 1) % 5 == 0 or epoch + 1 == cfg.epochs:
            row["target_probe_acc"] = _probe_accuracy(model, cfg.seed)
        history.append(row)
        log(json.dumps(row))
    elapsed = time.perf_counter() - start
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    tmp = out.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(out)
    manifest = {
        "architecture": "resnet18",
        "classes": list(shapes.SOURCE_CLASSES),
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "config": asdict(cfg),
        "seconds": round(elapsed, 1),
        "torch": torch.__version__,
        "history": history,
    }
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"pretrained in {elapsed / 60:.1f} min -> {out}")
    return manifest
