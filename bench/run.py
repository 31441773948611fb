"""Benchmarks: where the time goes. Run with `make bench` (not part of the test suite).

Prints a markdown table and writes it, with machine, date and versions, to
bench/RESULTS.md. Every number is a median of repeated runs measured here;
ratios compare runs made in the same process.

    python bench/run.py [--quick] [--only training,notebooks,engine,class,imports,throughput,install,paired,photos]

A run with --only re-measures those sections and keeps the others as they were
(each section says when and by which command it was measured).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_cached_vs_uncached(repeats: int) -> list[str]:
    import numpy as np
    import torch

    from course_utils import backbones, data, training
    from course_utils.heads import replace_head

    splits = data.target_splits(train_per_class=100, val_per_class=40, test_per_class=100, seed=0)
    rows = [
        "| head-only training, 10 epochs, ResNet-18 (course), 500 images | fine_tune seconds (median) | test accuracy |",
        "|---|---|---|",
    ]
    results = {}
    for cache in (True, False):

        def run(cache=cache):
            torch.manual_seed(0)
            model = replace_head(backbones.load_backbone(), 5, freeze_backbone=True)
            hist = training.fine_tune(
                model,
                splits.train,
                epochs=10,
                lr=3e-3,
                mode="head",
                device="cpu",
                cache_features=cache,
            )
            labels, pred, _ = training.evaluate(model, splits.test, device="cpu")
            return hist.seconds, float(np.mean(labels == pred))

        runs = [run() for _ in range(repeats)]
        seconds = statistics.median(r[0] for r in runs)
        results[cache] = seconds
        rows.append(
            f"| {'cached features' if cache else 'uncached (backbone every epoch)'} "
            f"| {seconds:.2f} | {runs[0][1]:.3f} |"
        )
    rows.append(f"| speed-up (uncached / cached) | {results[False] / results[True]:.1f}x | |")
    return rows


def bench_notebooks(repeats: int) -> list[str]:
    import nbformat
    from nbclient import NotebookClient

    rows = ["| lesson | execution seconds (median) |", "|---|---|"]
    total = 0.0
    for nb_path in sorted((ROOT / "solutions").glob("lesson*/lesson*.ipynb")):

        def run(nb_path=nb_path):
            nb = nbformat.read(nb_path, as_version=4)
            NotebookClient(
                nb,
                timeout=300,
                kernel_name="python3",
                resources={"metadata": {"path": str(nb_path.parent)}},
            ).execute()

        seconds, _ = median_time(run, repeats)
        total += seconds
        rows.append(f"| {nb_path.parent.name} | {seconds:.1f} |")
    rows.append(f"| **total** | **{total:.1f}** |")
    return rows


_EXECUTE = """
import sys, time, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": path.rsplit("/", 1)[0]}}).execute()
print(time.perf_counter() - start)
"""


def _execute_seconds(nb_path: Path) -> float:
    """Seconds to execute one notebook in a fresh kernel, from a process of its own."""
    done = subprocess.run(
        [sys.executable, "-c", _EXECUTE, str(nb_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def bench_lessons_paired() -> list[str]:
    """Each lesson alone, then the course run two lessons at a time (two students, 2 cores)."""
    from concurrent.futures import ThreadPoolExecutor

    paths = sorted((ROOT / "solutions").glob("lesson*/lesson*.ipynb"))
    alone = {p.parent.name: _execute_seconds(p) for p in paths}
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        paired = dict(
            zip([p.parent.name for p in paths], pool.map(_execute_seconds, paths), strict=True)
        )
    wall = time.perf_counter() - start
    rows = [
        "| lesson | alone, seconds | two at once, seconds | slowdown |",
        "|---|---|---|---|",
    ]
    for name in alone:
        rows.append(
            f"| {name} | {alone[name]:.1f} | {paired[name]:.1f} | {paired[name] / alone[name]:.2f}x |"
        )
    rows.append(f"| **all {len(alone)}, one after another** | **{sum(alone.values()):.1f}** | | |")
    rows.append(f"| **all {len(alone)}, two at a time (wall clock)** | | **{wall:.1f}** | |")
    return rows


def _full_class(folder: Path, students: int) -> list[str]:
    """``students`` copies of one full submission (the solution notebooks) under ``folder``."""
    import shutil

    lessons = sorted(p.parent.name for p in (ROOT / "solutions").glob("lesson*/lesson*.ipynb"))
    for k in range(students):
        for lesson in lessons:
            dest = folder / f"student{k:02d}" / f"{lesson}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / "solutions" / lesson / f"{lesson}.ipynb", dest)
    return lessons


def _course_grade(subs: Path, out: Path, *extra: str) -> tuple[float, str]:
    """Seconds ``course grade`` takes (wall clock, whole command) and what it printed."""
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "grade",
            "--submissions",
            str(subs),
            "--out",
            str(out),
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, done.stdout


def bench_engine() -> list[str]:
    """Plain nbclient execution of every solution notebook against grading them, warm and cold.

    One run: the plain executions, then ``course grade --jobs 1`` of the same
    notebooks as one student's full submission, warm (the default: workers and
    kernels forked from a zygote) and ``--cold``. The warm total counts the
    zygote's start, paid once per run.
    """
    import re

    import nbformat
    from nbclient import NotebookClient

    plain = {}
    for nb_path in sorted((ROOT / "solutions").glob("lesson*/lesson*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(nb_path.parent)}},
        ).execute()
        plain[nb_path.parent.name] = time.perf_counter() - start
    runs = {}
    for label, extra in (("warm", ()), ("cold", ("--cold",))):
        with tempfile.TemporaryDirectory() as tmp:
            _full_class(Path(tmp) / "subs", 1)
            total, printed = _course_grade(
                Path(tmp) / "subs", Path(tmp) / "out", "--jobs", "1", *extra
            )
        per_lesson = {
            m.group(1): float(m.group(2))
            for m in re.finditer(r"student00 (lesson\d+): .* \(([\d.]+) s\)", printed)
        }
        ready = re.search(r"ready in ([\d.]+) s", printed)
        runs[label] = (per_lesson, float(ready.group(1)) if ready else 0.0, total)
    warm, zygote_s, warm_total = runs["warm"]
    cold, _, cold_total = runs["cold"]
    rows = [
        "| lesson | plain nbclient s | graded warm s | graded cold s | warm / plain | cold / plain |",
        "|---|---|---|---|---|---|",
    ]
    for lesson, seconds in plain.items():
        w, c = warm.get(lesson, float("nan")), cold.get(lesson, float("nan"))
        rows.append(
            f"| {lesson} | {seconds:.1f} | {w:.1f} | {c:.1f} | {w / seconds:.2f} | {c / seconds:.2f} |"
        )
    p_total = sum(plain.values())
    w_total, c_total = sum(warm.values()) + zygote_s, sum(cold.values())
    rows.append(f"| zygote start (once per run) | | {zygote_s:.1f} | | | |")
    rows.append(
        f"| **{len(plain)} lessons** | **{p_total:.1f}** | **{w_total:.1f}** | **{c_total:.1f}** | "
        f"**{w_total / p_total:.2f}** | **{c_total / p_total:.2f}** |"
    )
    rows.append(
        f"| whole `course grade --jobs 1` (generate, grade, write) | | {warm_total:.1f} | "
        f"{cold_total:.1f} | {warm_total / p_total:.2f} | {cold_total / p_total:.2f} |"
    )
    return rows


def bench_class(students: int) -> list[str]:
    """A class of full submissions: 1 job, 2 jobs, and a LocalCluster of 2 Dask workers."""
    rows = [
        f"| class of {students} full submissions | seconds | speed-up vs 1 job | grades.csv |",
        "|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs"
        _full_class(subs, students)
        one, _ = _course_grade(subs, Path(tmp) / "one", "--jobs", "1")
        reference = (Path(tmp) / "one" / "grades.csv").read_bytes()
        rows.append(f"| 1 job | {one:.0f} | 1.00 | reference |")
        two, _ = _course_grade(subs, Path(tmp) / "two", "--jobs", "2")
        same = (Path(tmp) / "two" / "grades.csv").read_bytes() == reference
        rows.append(
            f"| 2 jobs | {two:.0f} | {one / two:.2f} | {'identical' if same else 'DIFFERS'} |"
        )
        try:
            from distributed import LocalCluster
        except ImportError:
            rows.append("| 2 Dask workers | not run: pip install '.[dask]' | | |")
            return rows
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            dask_s, _ = _course_grade(
                subs, Path(tmp) / "dask", "--scheduler", cluster.scheduler_address
            )
        same = (Path(tmp) / "dask" / "grades.csv").read_bytes() == reference
        rows.append(
            f"| 2 Dask workers (LocalCluster, 1 thread each) | {dask_s:.0f} | "
            f"{one / dask_s:.2f} | {'identical' if same else 'DIFFERS'} |"
        )
    return rows


def bench_imports(repeats: int) -> list[str]:
    """What each fresh grading kernel pays before the first cell: the heavy imports."""
    code = (
        "import torch, torchvision, matplotlib.pyplot, sklearn.metrics, ipykernel.kernelapp, "
        "course_utils.checks"
    )
    bare, _ = median_time(
        lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), repeats
    )
    heavy, _ = median_time(
        lambda: subprocess.run([sys.executable, "-c", code], check=True), repeats
    )
    from grader._course import lessons

    kernels = len(lessons(ROOT))  # one per lesson in a full submission
    return [
        "| fresh interpreter | seconds (median) |",
        "|---|---|",
        f"| `python -c pass` | {bare:.2f} |",
        f"| + torch, torchvision, matplotlib, sklearn, ipykernel, course_utils | {heavy:.2f} |",
        f"| import cost per kernel | {heavy - bare:.2f} |",
        f"| for the {kernels} kernels of one full submission | {kernels * (heavy - bare):.1f} |",
    ]


def _handwritten_loop(model, x, y, steps: int, batch: int, amp: bool, device) -> float:
    import torch

    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    if amp:
        model = model.to(memory_format=torch.channels_last)
    model.train()

    def step(i):
        xb = x[(i * batch) % len(x) :][:batch].to(device, non_blocking=True)
        yb = y[(i * batch) % len(y) :][:batch].to(device, non_blocking=True)
        if amp:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(xb).float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(0)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        step(i + 1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def bench_throughput(repeats: int, quick: bool) -> list[str]:
    import torch
    import torchvision

    from course_utils import training
    from course_utils.heads import replace_head

    device = training.select_device("auto")
    on_gpu = device.type == "cuda"
    size = 224
    batch = 256 if on_gpu else 16
    steps = 20 if on_gpu else (2 if quick else 4)
    rows = [
        f"| model @ {size}px, {device.type}, batch {batch} | loop | images/s (median of {repeats}) |",
        "|---|---|---|",
    ]
    for arch in ("resnet18", "resnet50"):
        torch.manual_seed(0)
        n = batch * steps
        x = torch.randn(n, 3, size, size)
        y = torch.randint(0, 10, (n,))
        if on_gpu:
            x = x.pin_memory()
        for amp in (False, True) if on_gpu else (False,):

            def hand(amp=amp, arch=arch, x=x, y=y):
                model = replace_head(torchvision.models.get_model(arch), 10).to(device)
                return _handwritten_loop(model, x, y, steps, batch, amp, device)

            vals = [hand() for _ in range(repeats)]
            rows.append(
                f"| {arch} full | hand-written {'bf16+channels_last' if amp else 'fp32'} "
                f"| {statistics.median(vals):.1f} |"
            )
        for mode in ("full", "head"):

            def ours(mode=mode, arch=arch, x=x, y=y, n=n):
                model = replace_head(torchvision.models.get_model(arch), 10)
                hist = training.fine_tune(
                    model,
                    (x, y),
                    epochs=2,
                    lr=1e-3,
                    mode=mode,
                    device=device,
                    batch_size=batch,
                    cache_features=False,
                )
                epoch2 = hist.rows[1]["seconds"] - hist.rows[0]["seconds"]  # epoch 1 is warm-up
                return n / epoch2

            vals = [ours() for _ in range(repeats)]
            amp_note = " (AMP auto)" if on_gpu else ""
            rows.append(
                f"| {arch} {mode} | course fine_tune{amp_note} | {statistics.median(vals):.1f} |"
            )
    return rows


def _du_gb(path: Path) -> float:
    """Disk use of ``path`` in GB (10^9 bytes), counting each hard-linked file once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            info = os.lstat(os.path.join(folder, name))
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total / 1e9


def _student_venv(venv: Path) -> Path:
    """A fresh venv at ``venv`` with a student's install (``pip install .``); its site-packages.

    The course is installed from a copy of the tracked files, so the build writes nothing
    into the repository; pip's own configuration says where torch comes from.
    """
    import shutil

    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    source = venv.parent / "source"
    for rel in filter(None, tracked.split("\0")):
        if (ROOT / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, source / rel)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(source)], check=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(purelib)


def bench_install_size() -> list[str]:
    """How big this environment is and a student's (``pip install .`` in a fresh venv), and
    how much of each is CUDA (what a CPU-only torch saves)."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    lines = ["| what | GB |", "|---|---|"]
    with tempfile.TemporaryDirectory(prefix="bench-student-") as tmp:
        student = Path(tmp) / "venv"
        student_site = _student_venv(student)
        rows = [
            ("the environment (`sys.prefix`)", Path(sys.prefix)),
            ("NVIDIA CUDA libraries (`site-packages/nvidia`)", site / "nvidia"),
            ("torch (`site-packages/torch`)", site / "torch"),
            ("a student's install (`pip install .` in a fresh venv)", student),
            ("its NVIDIA CUDA libraries (`site-packages/nvidia`)", student_site / "nvidia"),
            ("its torch (`site-packages/torch`)", student_site / "torch"),
        ]
        for label, path in rows:
            size = f"{_du_gb(path):.1f}" if path.exists() else "absent"
            lines.append(f"| {label} | {size} |")
    return lines


def _rss_mb() -> float:
    """Resident memory of this process in MB (Linux), page size from the OS."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def bench_photo_folder(repeats: int, n: int = 2000) -> list[str]:
    """Building a lazy data set over a folder of n large JPEGs: time and memory."""
    import tracemalloc
    import warnings

    import numpy as np
    from PIL import Image
    from torchvision.models import ResNet18_Weights

    from course_utils import data

    transform = ResNet18_Weights.DEFAULT.transforms()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rng = np.random.default_rng(0)
        base = rng.integers(0, 255, (768 // 8, 1024 // 8, 3), dtype=np.uint8)
        big = np.asarray(Image.fromarray(base).resize((1024, 768), Image.Resampling.BILINEAR))
        for i in range(n):
            folder = root / f"class_{i % 5}"
            folder.mkdir(exist_ok=True)
            img = big.copy()
            img[:32, :32] = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)  # every file distinct
            Image.fromarray(img).save(folder / f"{i:04d}.jpg", quality=90)
        disk_mb = sum(p.stat().st_size for p in root.rglob("*.jpg")) / 1e6
        rss_before = _rss_mb()
        tracemalloc.start()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no file may be skipped
            seconds, ds = median_time(lambda: data.image_folder(root, transform=transform), repeats)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = _rss_mb()
        item_seconds, _ = median_time(lambda: ds[n // 2], repeats)
        eager_mb = n * 3 * 224 * 224 * 4 / 1e6
    return [
        f"| {n} JPEGs of 1024x768 px ({disk_mb:.0f} MB on disk, page cache warm) | value |",
        "|---|---|",
        f"| `data.image_folder(root, transform=weights.transforms())` seconds (median of {repeats}) | {seconds:.3f} |",
        f"| peak Python allocations while building (tracemalloc), MB | {peak / 1e6:.1f} |",
        f"| resident memory growth of the process, MB | {max(0.0, rss_after - rss_before):.1f} |",
        f"| one `ds[i]` (open, decode, resize, crop, normalise) seconds | {item_seconds:.4f} |",
        f"| the same {n} images held as 224 px float tensors (the old eager loader), MB | {eager_mb:.0f} |",
    ]


def header() -> list[str]:
    import torch
    import torchvision

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return [
        "# Benchmarks",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, GPU: {gpu}",
        f"- python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}",
        "- command: `" + " ".join(["python bench/run.py", *sys.argv[1:]]) + "`",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="run the slow sections once")
    parser.add_argument(
        "--only", default="training,notebooks,engine,class,imports,throughput,install"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--students", type=int, default=10, help="class size for --only class")
    args = parser.parse_args()
    # --quick keeps the cheap sections at 3 repeats and runs the slow ones (whole notebooks,
    # grading) once.
    repeats = 3
    slow_repeats = 1 if args.quick else 3
    sections = {
        "training": ("Cached vs uncached head training", lambda: bench_cached_vs_uncached(repeats)),
        "notebooks": (
            "Lesson execution (solutions, fresh kernel)",
            lambda: bench_notebooks(slow_repeats),
        ),
        "throughput": ("Fine-tuning throughput", lambda: bench_throughput(repeats, args.quick)),
        "engine": ("Plain execution vs grading, one full submission (same run)", bench_engine),
        "class": (
            "A class of full submissions: jobs and Dask workers",
            lambda: bench_class(args.students),
        ),
        "imports": ("Import cost of a fresh kernel", lambda: bench_imports(repeats)),
        "install": ("Install size", bench_install_size),
        "photos": ("A lazy photo folder (lesson 8)", lambda: bench_photo_folder(repeats)),
        "paired": ("Lessons alone and two at once (fresh kernels)", bench_lessons_paired),
    }
    lines = header()
    command = " ".join(["python bench/run.py", *sys.argv[1:]])
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}"
    fresh: dict[str, list[str]] = {}
    for key in args.only.split(","):
        title, fn = sections[key]
        print(f"## {title}", flush=True)
        body = fn()
        print("\n".join(body), flush=True)
        fresh[title] = [f"## {title}", "", f"_measured {stamp} by `{command}`_", "", *body, ""]
    old = args.out.read_text() if args.out.exists() else ""
    # Sections other bench scripts own (<!-- begin: NAME --> ... <!-- end: NAME -->) stay,
    # and so do this script's sections that this run did not measure again.
    owned = re.findall(r"<!-- begin: [\w-]+ -->.*?<!-- end: [\w-]+ -->\n?", old, re.S)
    ours = re.sub(r"<!-- begin: [\w-]+ -->.*?<!-- end: [\w-]+ -->\n?", "", old, flags=re.S)
    for block in re.split(r"^(?=## )", ours, flags=re.M)[1:]:
        title = block.splitlines()[0][3:].strip()
        if title not in fresh:
            fresh[title] = block.rstrip("\n").splitlines() + [""]
    for title in [t for _, (t, _) in sections.items() if t in fresh] + [
        t for t in fresh if t not in {t for t, _ in sections.values()}
    ]:
        lines += fresh[title]
    lines += owned
    args.out.write_text("\n".join(lines))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
