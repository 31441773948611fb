"""Shared tiny models: toy networks, and torchvision models on the meta device.

torch is imported inside the fixtures so that test sessions that never use
them (metrics, packaging) do not pay the ~6 s import.
"""

from __future__ import annotations

import gc
import os

import pytest


@pytest.fixture
def toy_net():
    """A user's own model: a small backbone in ``features``, its head in ``fc`` (8 -> 3)."""
    import torch
    from torch import nn

    class ToyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
            )
            self.fc = nn.Linear(8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.features(x))

    torch.manual_seed(0)
    return ToyNet()


@pytest.fixture
def toy_sequential():
    """An nn.Sequential whose head, ``[5]`` (4 -> 5), is followed by a Dropout."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 5),
        nn.Dropout(0.1),
    )


@pytest.fixture(scope="session")
def meta_model():
    """Factory: ``meta_model("resnet50")`` is that torchvision model on the meta device.

    Meta tensors have shapes but no data, so even the largest model builds in
    milliseconds and a forward pass returns output shapes.
    """
    from unittest import mock

    import torch
    import torchvision
    from torchvision.models import regnet

    block_params = regnet.BlockParams.from_init_params

    def block_params_on_cpu(*args, **kwargs):
        with torch.device("cpu"):
            return block_params(*args, **kwargs)

    def build(name: str, **kwargs):
        if name in ("googlenet", "inception_v3"):
            kwargs.setdefault("init_weights", False)  # the scipy init is slow and warns
        # RegNet computes its block widths with tensor ops, which cannot run on meta.
        with (
            mock.patch.object(
                regnet.BlockParams, "from_init_params", staticmethod(block_params_on_cpu)
            ),
            torch.device("meta"),
        ):
            return torchvision.models.get_model(name, weights=None, **kwargs)

    return build


# Notebooks under tests/ are grading fixtures, not nbval targets.
collect_ignore_glob = ["**/*.ipynb"]


# --------------------------------------------------------------------------- parallel runs
# `make test` runs pytest-xdist with `--dist loadfile`: each test file (and each notebook's nbval
# cells, which share one kernel) stays on one worker, so a module's expensive fixtures are built
# once. Workers take files in collection order; the files marked `long` go first, longest first,
# so that no long file starts last. A file says it is long, and how long, in its own
# `pytestmark = pytest.mark.long(SECONDS)`: about how long it takes in `make test` (its tests'
# `--durations=0` summed). The numbers come from one run on a shared, busy 2-core machine:
# a weight for the order, not a limit; a new long file gives its own.
# tests/test_markers.py checks that every file with a slow test carries one.
LONG, WARM = "long", "warm"  # the markers this file reads, registered in pyproject.toml


def _file_marker(item: pytest.Item, name: str) -> pytest.Mark | None:
    """The marker ``name`` of the file that holds ``item`` (its module's ``pytestmark``)."""
    file = item.getparent(pytest.File)
    return None if file is None else file.get_closest_marker(name)


# A solution notebook (nbval) runs a whole lesson: 6 to 114 s each in the run that gave the
# files' numbers. They go after the long files and before the quick ones, which fill the end.
NOTEBOOK_SECONDS = 20.0


def _seconds(item: pytest.Item) -> float:
    if item.path.suffix == ".ipynb":
        return NOTEBOOK_SECONDS
    marker = _file_marker(item, LONG)
    return float(marker.args[0]) if marker is not None else 0.0


_SHARED_ZYGOTE_KEY = pytest.StashKey()


def pytest_configure(config):
    # The xdist controller collects nothing and runs no test. Before it starts its workers:
    # - it gives each worker its share of the cores for torch's thread pools (OMP/MKL), which
    #   its kernels and grading runs inherit, as `course grade --jobs N` gives each job its
    #   share. Every pool sized to all the cores, N of them busy at once, spin and wait on each
    #   other (tests/test_checks_lesson4.py and test_heads.py beside two busy cores: 56 CPU-s
    #   with 2 threads, 23 with 1);
    # - it starts the session's one zygote (tests/_warm.py) with that many threads; the
    #   workers inherit where it listens.
    workers = config.getoption("numprocesses", None)
    if workers and not hasattr(config, "workerinput"):
        import _warm

        cores = os.cpu_count() or 1
        threads = max(1, cores // workers) if isinstance(workers, int) else cores
        if (own := os.environ.get("OMP_NUM_THREADS", "")).isdigit():  # the caller's choice
            threads = int(own)
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, str(threads))
        if (shared := _warm.launch_for_workers(threads)) is not None:
            config.stash[_SHARED_ZYGOTE_KEY] = shared
            os.environ.update(shared.environ())


def pytest_unconfigure(config):
    if (shared := config.stash.get(_SHARED_ZYGOTE_KEY, None)) is not None:
        shared.close()


def pytest_collection_finish(session):
    # What collection imported (torch, timm, transformers, ...) lives until the session ends:
    # out of the collector's full passes, which would otherwise walk all of it each time
    # (test_heads_zoo.py: 3.4 s of garbage collection -> 1.4 s).
    gc.freeze()


def pytest_collection_modifyitems(config, items):
    _nbval_runs_warm(config, items)
    if hasattr(config, "workerinput"):  # an xdist worker: its order is the schedule's order
        items.sort(key=lambda item: -_seconds(item))  # stable: a file's items stay together


# --------------------------------------------------------------------------- warm grading
# Test files whose slow tests run `course grade` (in this process, or in Dask workers and
# subprocesses, which inherit the variable) carry `pytestmark = pytest.mark.warm`: their
# grading runs fork from this process's zygote instead of each run importing torch and the rest
# again (tests/_warm.py). A file about the grader starting its own zygote (test_zygote.py) says
# `pytest.mark.warm(False)`; tests/test_markers.py checks that every grading file says one.
def _grades_warm(module: pytest.Module) -> bool:
    marker = module.get_closest_marker(WARM)
    return marker is not None and marker.args[:1] != (False,)


@pytest.fixture(scope="module", autouse=True)
def _grading_forks_from_one_zygote(request):
    slow = _grades_warm(request.node) and any(
        item.path == request.path and item.get_closest_marker("slow")
        for item in request.session.items
    )
    if not slow:
        yield
        return
    import _warm

    with pytest.MonkeyPatch.context() as patch:
        _warm.share_with_grading(patch)
        yield


# --------------------------------------------------------------------------- nbval, warm
def _nbval_runs_warm(config, items) -> None:
    """nbval's kernels for the solution notebooks: warm forks (tests/_warm.py) where one can start.

    Each notebook still gets a fresh kernel that has run nothing, with torch and the
    rest imported already. ``COURSE_TEST_COLD=1`` keeps nbval's kernel of this
    interpreter (``--nbval-current-env``), a fresh import per notebook.
    """
    option = config.option
    if not getattr(option, "nbval", False) or not any(i.path.suffix == ".ipynb" for i in items):
        return
    import _warm

    if (name := _warm.kernel_name()) != "python3":
        option.nbval_current_env, option.nbval_kernel_name = False, name
