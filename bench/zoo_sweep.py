"""Heads in the model zoos: find_head/replace_head on every timm architecture and every
transformers image-classification class, built from their configs without weights.

Each model is built on the meta device (shapes, no data, nothing downloaded) and
checked against the library's own answer:

- find_head finds exactly the layers whose shapes change when the library itself
  builds the model for 7 classes (timm: ``create_model(name, num_classes=7)``;
  transformers: the class built from its config with ``num_labels=7``);
- after ``replace_head(model, 7)`` every parameter has the shape of that 7-class
  model, and every output of a forward pass (eval and train mode) has its shape;
- the same model built without a head (timm ``num_classes=0``, transformers'
  base model) is refused as "a feature extractor: its output is N features",
  with N its real output size.

    python bench/zoo_sweep.py [--timm all|families|none|NAME,...]
                              [--transformers all|none|NAME,...] [--out bench/RESULTS.md]

Prints one line per model and the pass counts, and writes them under the
"## Heads in model zoos" heading of bench/RESULTS.md, leaving the rest of the
file alone. tests/test_heads_zoo.py runs the same checks on a sample.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import contextvars
import datetime as dt
import os
import platform
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_flatten, tree_unflatten  # noqa: E402

from course_utils.heads import find_head, replace_head  # noqa: E402

SECTION = "## Heads in model zoos"
NUM_CLASSES = 7

# Classes whose default config does not build; these are the settings of their
# published checkpoints (deepmind/vision-perceiver-fourier and -conv).
TRANSFORMERS_CONFIGS: dict[str, dict[str, object]] = {
    "PerceiverForImageClassificationFourier": {"num_cross_attention_heads": 1},
    "PerceiverForImageClassificationConvProcessing": {"num_cross_attention_heads": 1},
}
# Classes that have no classifier layer at all, and why: find_head must refuse them.
TRANSFORMERS_NO_HEAD = {
    "ShieldGemma2ForImageClassification": "scores its language model's vocabulary",
}


@dataclass
class Outcome:
    name: str
    status: str  # "pass", "fail" or "skip" (cannot be built here: missing compiled package)
    detail: str = ""
    seconds: float = 0.0


class Failure(AssertionError):
    """A check that did not hold; its message says which and how."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


def _changed_layers(a: nn.Module, b: nn.Module) -> set[str]:
    """Layers with a parameter whose shape differs between two builds of one model."""
    sa, sb = _shapes(a), _shapes(b)
    return {k.rpartition(".")[0] for k in sa.keys() | sb.keys() if sa.get(k) != sb.get(k)}


def _tensors(out: object) -> Iterator[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, dict):  # transformers' ModelOutput is an OrderedDict
        for value in out.values():
            yield from _tensors(value)
    elif isinstance(out, tuple | list):
        for value in out:
            yield from _tensors(value)


def _metadata(value: object) -> object:
    """What a meta kernel's result depends on: meta tensors by shape, strides and dtype.

    Raises TypeError for an argument it cannot key, such as a tensor with data (whose values
    may decide the output's shape): the operator then simply runs.
    """
    if isinstance(value, torch.Tensor):
        if not value.is_meta:
            raise TypeError("a tensor with data")
        return ("tensor", tuple(value.shape), value.stride(), value.storage_offset(), value.dtype)
    if isinstance(value, list | tuple):
        return (type(value).__name__, *map(_metadata, value))
    if value is None or isinstance(value, bool | int | float | str | torch.dtype):
        return value
    if isinstance(value, torch.device | torch.memory_format | torch.layout):
        return str(value)
    raise TypeError(type(value).__name__)


class MetaResults(TorchDispatchMode):
    """Meta-device forward passes, several times faster: results reused by metadata.

    On the meta device most operators run a Python meta kernel (an addition costs about
    0.1 ms, an interpolation several ms) that only computes the output's shape, strides and
    dtype. The blocks of a network repeat the same operators on the same shapes, and a check
    runs the same network four times (two builds, eval and train mode): an operator already
    seen with the same arguments (tensors by their metadata) gets a fresh tensor with the
    metadata it gave then. Operators that mutate an argument or return a view of one always
    run, so identity and aliasing are what the kernels make them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[object, tuple[object, list[tuple]]] = {}
        self.reused = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        schema = func._schema
        if schema.is_mutable or any(r.alias_info is not None for r in schema.returns):
            return func(*args, **kwargs)
        try:
            key = (func, _metadata(args), _metadata(sorted(kwargs.items())))
        except TypeError:
            return func(*args, **kwargs)
        if key in self.seen:
            self.reused += 1
            tree, metas = self.seen[key]
            made = [torch.empty_strided(s, st, dtype=d, device="meta") for s, st, d in metas]
            return tree_unflatten(made, tree)
        out = func(*args, **kwargs)
        flat, tree = tree_flatten(out)
        if all(isinstance(t, torch.Tensor) and t.is_meta for t in flat):
            self.seen[key] = (tree, [(tuple(t.shape), t.stride(), t.dtype) for t in flat])
        return out


_meta_results: contextvars.ContextVar[MetaResults | None] = contextvars.ContextVar(
    "meta_results", default=None
)


@contextlib.contextmanager
def reuse_meta_results() -> Iterator[None]:
    """Within this block, forward passes on the meta device share one ``MetaResults``."""
    token = _meta_results.set(MetaResults())
    try:
        yield
    finally:
        _meta_results.reset(token)


class _QuickInit(TorchDispatchMode):
    """Building on the meta device, faster: random initialisers are skipped there.

    Their in-place operators (``uniform_``, ``normal_``, and the ``erfinv_`` and ``clamp_``
    of a truncated normal) leave a meta tensor's shape, strides and dtype as they were, so
    they return it without running their Python meta kernels (``clamp_`` alone took most of
    a build's time). Any other operator, or one with a tensor argument besides the one it
    fills, runs as usual.
    """

    SKIPPED = frozenset(
        {
            torch.ops.aten.uniform_.default,
            torch.ops.aten.normal_.default,
            torch.ops.aten.erfinv_.default,
            torch.ops.aten.clamp_.default,
        }
    )

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.SKIPPED:  # checked first: every operator of a build passes here
            target, rest = args[0], [*args[1:], *kwargs.values()]
            if target.is_meta and not any(isinstance(v, torch.Tensor) for v in rest):
                return target
        return func(*args, **kwargs)


@contextlib.contextmanager
def on_meta() -> Iterator[None]:
    """Build models on the meta device (shapes, no data), without running their initialisers."""
    with torch.device("meta"), _QuickInit():
        yield


def _output_shapes(model: nn.Module, x: torch.Tensor, train: bool, **kwargs) -> list[tuple]:
    model.train(train)
    results = _meta_results.get() if x.is_meta else None
    with torch.no_grad(), results if results is not None else contextlib.nullcontext():
        out = model(x, **kwargs) if kwargs else model(x)
    return [tuple(t.shape) for t in _tensors(out)]


def _compare_outputs(
    model: nn.Module,
    reference: nn.Module,
    x: torch.Tensor,
    is_score: Callable[[tuple], bool],
    **kwargs,
) -> str:
    """Forward both models in eval and train mode; their output shapes must agree.

    Returns "" when checked, or why the forward could not run on the meta device.
    """
    for train in (False, True):
        try:
            want = _output_shapes(reference, x, train, **kwargs)
        except Exception as exc:  # the library's own model cannot run on meta either
            return f"forward not checkable on meta ({type(exc).__name__}: {str(exc)[:80]})"
        got = _output_shapes(model, x, train, **kwargs)
        mode = "train" if train else "eval"
        _expect(got == want, f"{mode} outputs {got}, the library's 7-class model gives {want}")
        _expect(any(is_score(s) for s in got), f"{mode} outputs {got} have no 7-class scores")
    return ""


def _check_refusal(build: Callable[[], nn.Module], features: Callable[[nn.Module], int]) -> str:
    """A model without a head must be refused as a feature extractor, with its output size."""
    with on_meta():
        model = build()
    try:
        info = find_head(model)
    except ValueError as exc:
        message = str(exc)
    else:
        raise Failure(f"feature extractor {type(model).__name__}: find_head returned {info.paths}")
    n = features(model)
    _expect(
        f"a feature extractor: its output is {n} features" in message,
        f"refusal does not give the output size {n}: {message[:200]}",
    )
    return message


# --- timm ---------------------------------------------------------------------------------


def timm_families() -> dict[str, list[str]]:
    """Every timm architecture, grouped by the module of timm.models that defines it."""
    import timm
    from timm.models import _registry

    families: dict[str, list[str]] = collections.defaultdict(list)
    for name in timm.list_models():
        families[_registry._model_to_module[name]].append(name)
    return dict(families)


def _timm_input(model: nn.Module) -> torch.Tensor:
    cfg = model.pretrained_cfg
    channels, height, width = cfg.get("test_input_size") or cfg.get("input_size") or (3, 224, 224)
    if any(isinstance(m, nn.RNNBase) for m in model.modules()):
        # An RNN over the feature map (Sequencer) takes one step per position, each a Python
        # call on meta: 224 px costs seconds per forward, 64 px a quarter of that. The class
        # scores' shape does not depend on the image size.
        height = width = 64
    return torch.empty(2, channels, height, width, device="meta")


def _timm_features(model: nn.Module) -> int:
    """What a headless timm model puts out: measured by a forward pass when it runs on meta."""
    declared = getattr(model, "head_hidden_size", None) or model.num_features
    try:
        shape = _output_shapes(model, _timm_input(model), False)[0]
    except Exception:
        return declared
    # An unpooled feature map (N, C, H, W) or (N, H, W, C): its channels.
    return declared if len(shape) == 4 and declared in (shape[1], shape[-1]) else shape[-1]


def check_timm(name: str) -> Outcome:
    with reuse_meta_results():
        return _check_timm(name)


def _check_timm(name: str) -> Outcome:
    import timm

    start = time.perf_counter()
    notes = []
    try:
        with on_meta():
            model = timm.create_model(name, pretrained=False)
        if getattr(model, "num_classes", None) == 0 or not callable(
            getattr(model, "reset_classifier", None)
        ):
            # Built as a feature extractor by default (MIM/CLIP encoders, SAM, ...).
            _check_refusal(lambda: model, _timm_features)
            notes.append("default build has no head: refused")
            if not callable(getattr(model, "reset_classifier", None)):
                return Outcome(name, "pass", "; ".join(notes), time.perf_counter() - start)
            with on_meta():
                model = timm.create_model(name, pretrained=False, num_classes=1000)
        else:
            _check_refusal(
                lambda: timm.create_model(name, pretrained=False, num_classes=0), _timm_features
            )
        with on_meta():
            reference = timm.create_model(name, pretrained=False, num_classes=NUM_CLASSES)
        expected = _changed_layers(model, reference)
        info = find_head(model)
        _expect(
            set(info.paths) == expected,
            f"find_head gives {info.paths}, timm's classifier layers are {sorted(expected)}",
        )
        cfg_names = model.pretrained_cfg.get("classifier") or ()
        main = cfg_names if isinstance(cfg_names, str) else (cfg_names or ("",))[0]
        _expect(
            not main or info.path == main or info.path.startswith(main + "."),
            f"main head {info.path!r} is not timm's first classifier {main!r}",
        )
        replace_head(model, NUM_CLASSES)
        _expect(
            _shapes(model) == _shapes(reference),
            f"parameter shapes differ from timm's: {sorted(_changed_layers(model, reference))}",
        )
        _expect(model.num_classes == NUM_CLASSES, f"num_classes is {model.num_classes}")
        if hasattr(model, "set_distilled_training"):  # distilled models: both heads in train mode
            model.set_distilled_training(True)
            reference.set_distilled_training(True)
        why = _compare_outputs(
            model,
            reference,
            _timm_input(model),
            lambda s: len(s) >= 2 and s[1] == NUM_CLASSES or s[-1] == NUM_CLASSES,
        )
        if why:
            notes.append(why)
        if info.aux_paths:
            notes.append(f"{len(info.paths)} heads: {', '.join(info.paths)}")
    except Failure as exc:
        return Outcome(name, "fail", str(exc), time.perf_counter() - start)
    except Exception as exc:
        return Outcome(name, "fail", _crash(exc), time.perf_counter() - start)
    return Outcome(name, "pass", "; ".join(notes), time.perf_counter() - start)


# --- transformers ---------------------------------------------------------------------------


def transformers_classes() -> list[str]:
    """Every class in transformers' image-classification mapping (teachers included)."""
    from transformers.models.auto import modeling_auto

    names = set()
    for value in modeling_auto.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES.values():
        names.update(value if isinstance(value, tuple) else (value,))
    return sorted(names)


def _hf_input(config) -> torch.Tensor:
    if config.model_type == "imagegpt":  # reads colour-cluster tokens, not pixels
        return torch.zeros(2, 16, dtype=torch.long, device="meta")
    vision = getattr(config, "vision_config", None) or config
    size = getattr(vision, "image_size", None) or 224
    size = size if isinstance(size, list | tuple) else (size, size)
    channels = getattr(vision, "num_channels", None) or 3
    return torch.empty(2, channels, *size[-2:], device="meta")


def check_transformers(class_name: str) -> Outcome:
    with reuse_meta_results():
        return _check_transformers(class_name)


def _check_transformers(class_name: str) -> Outcome:
    import transformers

    start = time.perf_counter()
    cls = getattr(transformers, class_name)
    extra = TRANSFORMERS_CONFIGS.get(class_name, {})
    notes = []
    try:
        try:
            with on_meta():
                model = cls(cls.config_class(**extra))
        except ImportError as exc:  # needs a compiled package (natten) that is not installed
            return Outcome(
                class_name,
                "skip",
                f"does not build: {str(exc).strip().splitlines()[0]}",
                time.perf_counter() - start,
            )
        if class_name in TRANSFORMERS_NO_HEAD:
            try:
                find_head(model)
            except ValueError as exc:
                _expect("no classifier layer" in str(exc), f"unclear refusal: {exc}")
                return Outcome(
                    class_name,
                    "pass",
                    f"refused: {TRANSFORMERS_NO_HEAD[class_name]}, no classifier layer",
                    time.perf_counter() - start,
                )
            raise Failure("find_head found a head in a model that has none")
        with on_meta():
            reference = cls(cls.config_class(num_labels=NUM_CLASSES, **extra))
        expected = _changed_layers(model, reference)
        info = find_head(model)
        _expect(
            set(info.paths) == expected,
            f"find_head gives {info.paths}, the {NUM_CLASSES}-label build changes "
            f"{sorted(expected)}",
        )
        replace_head(model, NUM_CLASSES)
        _expect(
            _shapes(model) == _shapes(reference),
            f"parameter shapes differ: {sorted(_changed_layers(model, reference))}",
        )
        _expect(
            model.config.num_labels == NUM_CLASSES,
            f"config.num_labels is {model.config.num_labels}",
        )
        why = _compare_outputs(
            model, reference, _hf_input(model.config), lambda s: s[-1] == NUM_CLASSES
        )
        if why:
            notes.append(why)
        if info.aux_paths:
            notes.append(f"{len(info.paths)} heads: {', '.join(info.paths)}")
        # The base model alone (ViTModel, SiglipVisionModel, ...) is a feature extractor.
        base = next(((n, c) for n, c in model.named_children() if hasattr(c, "config")), None)
        # Perceiver's base model holds its classifying decoder: that one is no feature extractor.
        inside = base is not None and any(p.startswith(f"{base[0]}.") for p in info.paths)
        if base is not None and not inside and not hasattr(base[1], "reset_classifier"):
            base = base[1]
            _check_refusal(lambda: base, _hf_features)
            notes.append(f"base {type(base).__name__}: refused")
    except Failure as exc:
        return Outcome(class_name, "fail", str(exc), time.perf_counter() - start)
    except Exception as exc:
        return Outcome(class_name, "fail", _crash(exc), time.perf_counter() - start)
    return Outcome(class_name, "pass", "; ".join(notes), time.perf_counter() - start)


def _hf_features(base: nn.Module) -> int:
    """The width of a transformers base model's pooled output, measured on meta."""
    try:
        out = base(_hf_input(base.config))
    except (RuntimeError, TypeError):
        # ImageGPT makes CPU tensors in forward (cannot run on meta); Siglip2 wants patch masks
        # and spatial shapes besides pixels: its width is the config's hidden size.
        return base.config.hidden_size
    pooled = getattr(out, "pooler_output", None)
    if pooled is None:
        pooled = out[0]
    return pooled.shape[-1] if pooled.ndim in (2, 3) else pooled.shape[1]


def _crash(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1]
    return (
        f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''} "
        f"({Path(where.filename).name}:{where.lineno})"
    )


# --- report ---------------------------------------------------------------------------------


def _summary(label: str, outcomes: list[Outcome]) -> list[str]:
    counts = collections.Counter(o.status for o in outcomes)
    built = counts["pass"] + counts["fail"]
    lines = [
        f"- {label}: **{counts['pass']} of {built}** buildable models pass"
        + (f" ({counts['skip']} cannot be built here)" if counts["skip"] else "")
        + f"; {sum(o.seconds for o in outcomes):.0f} s"
    ]
    for o in outcomes:
        if o.status != "pass":
            lines.append(f"  - {o.status}: `{o.name}`: {o.detail}")
    unchecked = [o.name for o in outcomes if "not checkable" in o.detail]
    if unchecked:
        lines.append(
            f"  - forward not checkable on the meta device ({len(unchecked)}; heads and "
            f"parameter shapes checked): {', '.join(f'`{n}`' for n in unchecked)}"
        )
    multi = [o.name for o in outcomes if " heads: " in o.detail]
    if multi:
        lines.append(
            f"  - with more than one class-score head ({len(multi)}): "
            f"{', '.join(f'`{n}`' for n in multi)}"
        )
    return lines


PASS_RULE = (
    "A model passes when find_head finds exactly the layers whose shapes the library changes "
    f"for {NUM_CLASSES} classes, replace_head(model, {NUM_CLASSES}) gives the library's "
    f"{NUM_CLASSES}-class parameter shapes and output shapes (eval and train mode, on the meta "
    "device), and the same model without a head (timm num_classes=0, transformers' base model) "
    "is refused as a feature extractor with its real output size."
)


def write_section(path: Path, label: str, lines: list[str]) -> None:
    """Replace (or add) this script's ``### label`` part of RESULTS.md, keeping every other line."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    # Up to the next section, or a block another bench script owns (<!-- begin: NAME -->).
    found = re.search(
        rf"^{re.escape(SECTION)}\n.*?(?=^## |^<!-- begin: |\Z)", text, flags=re.S | re.M
    )
    section = found.group(0) if found else f"{SECTION}\n\n{PASS_RULE}\n"
    part = "\n".join([f"### {label}", "", *lines, "", ""])
    old = re.search(
        rf"^### {re.escape(label)}\n.*?(?=^##|^<!-- begin: |\Z)", section, flags=re.S | re.M
    )
    if old:
        section = section[: old.start()] + part + section[old.end() :]
    else:
        section = section.rstrip("\n") + "\n\n" + part
    if found:
        text = text[: found.start()] + section + text[found.end() :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def _select(arg: str, everything: Callable[[], list[str]], families: bool = False) -> list[str]:
    if arg == "none":
        return []
    if arg == "all":
        return everything()
    if arg == "families" and families:
        return [names[0] for names in timm_families().values()]
    return [n for n in arg.split(",") if n]


def _quiet() -> None:
    """Worker set-up: one thread each, and library warnings into the log, not stderr."""
    torch.set_num_threads(1)
    sys.stderr = sys.stdout


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--timm", default="all", help="all, families (one each), none, or names")
    parser.add_argument("--transformers", default="all", help="all, none, or class names")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    import timm
    import transformers

    torch.set_num_threads(1)
    everything = lambda: sorted(sum(timm_families().values(), []))  # noqa: E731
    runs = [
        (
            "transformers",
            args.transformers,
            _select(args.transformers, transformers_classes),
            check_transformers,
        ),
        ("timm", args.timm, _select(args.timm, everything, True), check_timm),
    ]
    where = (
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{os.cpu_count()} CPU cores; timm {timm.__version__}, transformers "
        f"{transformers.__version__}, torch {torch.__version__}"
    )
    for label, arg, names, check in runs:
        if not names:
            continue
        outcomes = []
        with concurrent.futures.ProcessPoolExecutor(args.jobs, initializer=_quiet) as pool:
            results = pool.map(check, names)
            for i, (name, outcome) in enumerate(zip(names, results, strict=True), 1):
                outcomes.append(outcome)
                print(
                    f"[{label} {i}/{len(names)}] {outcome.status} {name} ({outcome.seconds:.1f} s)"
                    + (f": {outcome.detail}" if outcome.detail else ""),
                    flush=True,
                )
        lines = _summary(label, outcomes)
        print("\n".join(lines), flush=True)
        command = f"- command: `python bench/zoo_sweep.py --jobs {args.jobs} --{label} {arg}`"
        write_section(args.out, label, [where, command, *lines])
        print(f"written to {args.out} under {SECTION!r}, ### {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
