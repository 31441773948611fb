import time

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import backbones, data, training
from course_utils.heads import replace_head

pytestmark = pytest.mark.long(10)


def toy_model(num_classes=3):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, num_classes),
    )


def toy_data(n=48, num_classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % num_classes
    x = torch.randn(n, 3, 8, 8, generator=g) + y.view(-1, 1, 1, 1).float()
    return x, y


def test_select_device_auto_is_cpu_here_and_explicit_cuda_fails_clearly():
    assert training.select_device("auto").type in {"cpu", "cuda", "mps"}
    assert training.select_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            training.select_device("cuda")
    with pytest.raises(TypeError):
        training.select_device(3)


def test_head_mode_trains_only_the_head_and_keeps_bn_statistics():
    model = toy_model()
    bn_before = model[1].running_mean.clone()
    conv_before = model[0].weight.clone()
    head_before = model[5].weight.clone()
    hist = training.fine_tune(model, toy_data(), toy_data(seed=1), epochs=3, lr=0.05, device="cpu")
    assert hist.cached and len(hist.rows) == 3
    assert torch.equal(model[0].weight, conv_before)
    assert torch.equal(model[1].running_mean, bn_before)
    assert not torch.equal(model[5].weight, head_before)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["5.weight", "5.bias"]


def test_cached_and_uncached_head_training_agree():
    results = []
    for cache in (True, False):
        model = toy_model()
        h = training.fine_tune(
            model,
            toy_data(),
            toy_data(seed=1),
            epochs=4,
            lr=0.05,
            device="cpu",
            cache_features=cache,
        )
        assert h.cached is cache
        results.append((h, model[5].weight.detach().clone()))
    (hc, wc), (hu, wu) = results
    assert hc["val_acc"] == hu["val_acc"]
    np.testing.assert_allclose(hc["train_loss"], hu["train_loss"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(wc, wu, rtol=1e-5, atol=1e-6)


def test_fine_tune_is_deterministic_on_cpu():
    runs = [
        training.fine_tune(toy_model(), toy_data(), epochs=2, mode="full", device="cpu").rows
        for _ in range(2)
    ]
    assert [r["train_loss"] for r in runs[0]] == [r["train_loss"] for r in runs[1]]


def test_full_mode_trains_backbone_at_lower_lr():
    model = toy_model()
    model[0].weight.requires_grad_(False)  # full fine-tuning must unfreeze it
    before = model[0].weight.clone()
    training.fine_tune(model, toy_data(), epochs=1, lr=0.01, mode="full", device="cpu")
    assert not torch.equal(model[0].weight, before)
    assert all(p.requires_grad for p in model.parameters())


def test_squeezenet_style_head_falls_back_to_uncached():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.ReLU(),
        nn.Conv2d(8, 3, 1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    h = training.fine_tune(model, toy_data(), epochs=1, device="cpu")
    assert h.cached is False


def test_early_stopping_restores_best_weights():
    model = toy_model()
    h = training.fine_tune(
        model, toy_data(), toy_data(seed=5), epochs=40, lr=0.5, early_stopping=2, device="cpu"
    )
    best = h.best_epoch
    assert best is not None and h["val_loss"][best - 1] == min(h["val_loss"])
    _, pred, _ = training.evaluate(model, toy_data(seed=5), device="cpu")
    assert np.mean(pred == toy_data(seed=5)[1].numpy()) == pytest.approx(h["val_acc"][best - 1])
    assert h.restored_best and h.kept == h.rows[best - 1]


def test_kept_is_the_last_epoch_without_early_stopping():
    """Without early stopping the model keeps its last weights, so ``kept`` is the last row."""
    h = training.fine_tune(toy_model(), toy_data(), toy_data(seed=5), epochs=3, device="cpu")
    assert h.best_epoch is not None and not h.restored_best
    assert h.kept == h.final == h.rows[-1]


@pytest.mark.parametrize(
    "train, match",
    [
        ((torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 7])), "valid labels 0..2"),
        ((torch.randn(0, 3, 8, 8), torch.tensor([], dtype=torch.long)), "empty"),
        ((torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2])), "4 inputs but 3 labels"),
        ((torch.randn(4, 3, 8, 8), torch.tensor([0.0, 1.0, 2.0, 1.0])), "integer"),
    ],
)
def test_bad_data_fails_fast(train, match):
    with pytest.raises(ValueError, match=match):
        training.fine_tune(toy_model(), train, epochs=1, device="cpu")


def test_head_size_must_match_the_data_classes():
    splits = data.target_splits(train_per_class=2, val_per_class=1, test_per_class=1)
    model = toy_model(num_classes=7)
    with pytest.raises(ValueError, match="has 5 classes"):
        training.fine_tune(model, splits.train, epochs=1, device="cpu")


def test_nan_loss_is_reported():
    x, y = toy_data()
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="Lower lr"):
        training.fine_tune(toy_model(), (x, y), epochs=1, device="cpu")


def test_data_on_another_device_is_refused():
    x = torch.empty(4, 3, 8, 8, device="meta")
    with pytest.raises(ValueError, match="lives on meta"):
        training.fine_tune(toy_model(), (x, torch.tensor([0, 1, 2, 0])), epochs=1, device="cpu")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "partial"}, "mode must be"),
        ({"epochs": 0}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"early_stopping": 2}, "needs validation"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        training.fine_tune(toy_model(), toy_data(), device="cpu", **kwargs)


def test_evaluate_restores_mode_and_returns_probabilities():
    model = toy_model().train()
    labels, pred, probs = training.evaluate(model, toy_data(), device="cpu")
    assert model.training
    assert probs.shape == (48, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.array_equal(pred, probs.argmax(1)) and np.array_equal(labels, toy_data()[1].numpy())


def test_progress_bar_writes_to_stdout_only(capsys):
    training.fine_tune(toy_model(), toy_data(), epochs=2, device="cpu", progress=True)
    out, err = capsys.readouterr()
    assert err == "" and "fine-tune" in out


def _probe_accuracy(weights, splits):
    torch.manual_seed(0)
    model = backbones.load_backbone("resnet18", weights=weights)
    replace_head(model, len(splits.train.classes), freeze_backbone=True)
    training.fine_tune(
        model, splits.train, splits.val, epochs=30, lr=3e-3, mode="head", device="cpu"
    )
    labels, pred, _ = training.evaluate(model, splits.test, device="cpu")
    return float(np.mean(labels == pred))


@pytest.mark.slow
def test_pretraining_transfers_to_the_target_task():
    """Issue 3's bar: pretrained frozen backbone >= 0.80 test accuracy and >= 15 points above random."""
    splits = data.target_splits(train_per_class=100, val_per_class=40, test_per_class=100, seed=0)
    start = time.perf_counter()
    course = _probe_accuracy("course", splits)
    head_only_seconds = time.perf_counter() - start
    random = _probe_accuracy(None, splits)
    print(f"course {course:.3f} random {random:.3f} head-only {head_only_seconds:.1f}s")
    assert course >= 0.80
    assert course - random >= 0.15
    assert head_only_seconds <= 30
