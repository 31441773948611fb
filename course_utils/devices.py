"""Where training runs: device choice, mixed precision and batching.

:func:`select_device` picks the accelerator; :class:`Runner` holds what
depends on it (autocast, the gradient scaler, pinned memory, channels_last)
so the training loop itself stays free of device details. On the CPU nothing
changes numerically: no autocast, no scaling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from course_utils._validate import check_model, shown

__all__ = ["Runner", "eval_mode", "select_device"]


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; an explicit device must exist.

    >>> select_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {shown(device)}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for, but no CUDA GPU is available: use 'auto' or 'cpu'"
        )
    if dev.type == "mps" and not _mps_available():
        raise ValueError(
            f"device {device!r} asked for, but MPS is not available: use 'auto' or 'cpu'"
        )
    return dev


def eval_mode(model: nn.Module) -> contextlib.AbstractContextManager[nn.Module]:
    """Put ``model`` in eval mode for the ``with`` block, then restore its previous mode."""
    return _eval_mode(check_model(model))


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class Runner:
    """Device placement, autocast and batching, shared by training and evaluation.

    ``amp="auto"`` uses mixed precision on CUDA only: bf16 where the GPU
    supports it, else fp16 with a gradient scaler (a no-op scaler elsewhere).
    """

    def __init__(self, device: torch.device, amp: bool | str = "auto") -> None:
        self.device = device
        if amp == "auto":
            amp = device.type == "cuda"
        self.amp = bool(amp) and device.type == "cuda"
        bf16 = self.amp and torch.cuda.is_bf16_supported()
        self.dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and not bf16)

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """Mixed precision on CUDA with ``amp``; a do-nothing context elsewhere."""
        if self.amp:
            return torch.autocast("cuda", dtype=self.dtype)
        return contextlib.nullcontext()

    def place_model(self, model: nn.Module) -> nn.Module:
        """Move ``model`` to the device (channels_last on CUDA, faster for convolutions)."""
        model.to(self.device)
        if self.device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        return model

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        """One batch on the device, without blocking the host."""
        x = x.to(self.device, non_blocking=True)
        if self.device.type == "cuda" and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Pinned host memory for a whole data set bound for CUDA (faster copies)."""
        return x.pin_memory() if self.device.type == "cuda" and x.device.type == "cpu" else x

    def batches(
        self, n: int, batch_size: int, generator: torch.Generator | None
    ) -> list[torch.Tensor]:
        """Index batches over ``n`` samples: shuffled with ``generator``, in order without."""
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        return list(order.split(batch_size))

    @torch.no_grad()
    def predict(self, model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        """``model(x)`` batch by batch, as float32 on the CPU."""
        outs = []
        for idx in self.batches(len(x), batch_size, None):
            with self.autocast():
                out = model(self.to_device(x[idx]))
            outs.append(out.float().cpu())
        return torch.cat(outs)
