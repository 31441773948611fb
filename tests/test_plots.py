from types import SimpleNamespace

import matplotlib
import matplotlib.text

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from course_utils import metrics, plots  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")

FLOWERS = ["daisy", "dandelion", "rose", "sunflower", "tulip"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def bar_colours(ax):
    return [to_hex(p.get_facecolor()) for p in ax.patches]


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_palette_is_okabe_ito():
    assert len(set(plots.OKABE_ITO.values())) == 8
    assert set(plots.PALETTE) == set(plots.OKABE_ITO.values())
    assert plots.PALETTE[0] == "#0072B2" and plots.HIGHLIGHT == "#D55E00"


def test_axes_argument_is_checked():
    fig = plt.figure()
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes or None, got Figure"):
        plots.bar_comparison({"a": 1.0}, ax=fig)


# --------------------------------------------------------------------------- head diagram


@pytest.mark.parametrize("head_index, head_name", [(-1, "fc"), (1, "layer4")])
def test_head_diagram_highlights_the_head(head_index, head_name):
    layers = [("conv1", "Conv2d 3->64"), ("layer4", "blocks"), ("fc", "Linear 512->5")]
    _, given = plt.subplots()
    ax = plots.head_diagram(layers, head_index=head_index, ax=given)
    assert ax is given
    boxes = [to_hex(p.get_facecolor()).upper() for p in ax.patches]
    assert len(boxes) == 3
    highlighted = [i for i, c in enumerate(boxes) if c == plots.HIGHLIGHT]
    assert highlighted == [head_index % 3]
    assert "head" in texts(ax) and "backbone" in texts(ax)
    assert head_name in ax.get_title()


def test_head_diagram_title_and_single_layer():
    ax = plots.head_diagram([("fc", "Linear")], title="Only a head")
    assert ax.get_title() == "Only a head"
    assert "backbone" not in texts(ax)  # nothing before the head


@pytest.mark.parametrize(
    "layers, head_index, error, match",
    [
        ([], -1, ValueError, "non-empty list"),
        ([("fc",)], -1, ValueError, r"\(name, description\) pair, got \('fc',\)"),
        ([("a", "b"), ("c", "d")], 2, ValueError, "head_index 2 is out of range for 2 layers"),
        ([("a", "b")], 0.5, TypeError, "head_index must be an integer"),
    ],
)
def test_head_diagram_bad_input(layers, head_index, error, match):
    with pytest.raises(error, match=match):
        plots.head_diagram(layers, head_index=head_index)


# --------------------------------------------------------------------------- probabilities


def test_probability_bars_shows_the_probabilities_and_the_prediction():
    probs = np.array([[0.1, 0.05, 0.6, 0.15, 0.1]])  # a batch of one
    ax = plots.probability_bars(probs, FLOWERS)
    assert [p.get_height() for p in ax.patches] == pytest.approx(probs[0])
    colours = bar_colours(ax)
    assert colours[2].upper() == plots.HIGHLIGHT and colours.count(colours[0]) == 4
    assert [t.get_text() for t in ax.get_xticklabels()] == FLOWERS
    assert ax.get_ylabel() == "probability" and ax.get_xlabel() == "class"
    assert ax.get_title() == "Predicted: rose (60%)"


@pytest.mark.parametrize(
    "probs, names, match",
    [
        ([2.0, -1.0, 0.5], FLOWERS[:3], "apply softmax"),
        ([0.5, 0.5], FLOWERS[:3], r"got 3 class_names .* for 2 classes"),
        ([[0.5, 0.5], [0.5, 0.5]], FLOWERS[:2], r"1-D \(one sample\), got shape \(2, 2\)"),
    ],
)
def test_probability_bars_bad_input(probs, names, match):
    with pytest.raises(ValueError, match=match):
        plots.probability_bars(probs, names)


# --------------------------------------------------------------------------- confusion matrix


def test_confusion_matrix_heatmap_draws_sklearns_matrix():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 60)
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, 5, 60))
    ax = plots.confusion_matrix_heatmap(y_true, y_pred, FLOWERS, title="Roses get confused")
    drawn = np.asarray(ax.images[0].get_array())
    assert np.array_equal(drawn, confusion_matrix(y_true, y_pred, labels=range(5)))
    assert [t.get_text() for t in ax.get_yticklabels()] == FLOWERS
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert ax.get_title() == "Roses get confused"


def test_confusion_matrix_heatmap_normalized_rows_and_missing_classes():
    ax = plots.confusion_matrix_heatmap([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b", "c"], "true")
    drawn = np.asarray(ax.images[0].get_array())
    assert drawn.shape == (3, 3)  # class "c" never occurs but still has a row
    assert drawn[:2].sum(axis=1) == pytest.approx([1.0, 1.0])
    assert "0.50" in texts(ax)
    assert "accuracy 75%" in ax.get_title()


def test_confusion_matrix_heatmap_bad_input():
    with pytest.raises(ValueError, match="normalize must be .* got 'rows'"):
        plots.confusion_matrix_heatmap([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match="y_true has 2 samples but y_pred has 3"):
        plots.confusion_matrix_heatmap([0, 1], [0, 1, 1])


# --------------------------------------------------------------------------- training curves


ROWS = [
    {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e + 0.1, "train_acc": 1 - 0.4 / e}
    for e in range(1, 5)
]


def test_training_curves_one_panel_per_metric():
    fig = plots.training_curves(ROWS)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    loss, acc = fig.axes
    assert [line.get_label() for line in loss.get_lines()] == ["train", "validation"]
    assert list(loss.get_lines()[1].get_ydata()) == pytest.approx([r["val_loss"] for r in ROWS])
    assert list(loss.get_lines()[0].get_xdata()) == [1, 2, 3, 4]
    assert [line.get_label() for line in acc.get_lines()] == ["train"]  # no val_acc recorded
    assert (loss.get_ylabel(), acc.get_ylabel(), acc.get_xlabel()) == ("loss", "accuracy", "epoch")
    assert f"{ROWS[-1]['val_loss']:.3f}" in loss.get_title()


def test_training_curves_accepts_a_history_object_and_one_axes():
    history = SimpleNamespace(rows=ROWS)
    _, given = plt.subplots()
    ax = plots.training_curves(history, metrics=("loss",), ax=given, title="Validation lags")
    assert ax is given and isinstance(ax, Axes)
    assert ax.get_title() == "Validation lags"


@pytest.mark.parametrize(
    "history, kwargs, error, match",
    [
        ([], {}, ValueError, "non-empty list"),
        ({"train_loss": [1, 2]}, {}, TypeError, "non-empty list of per-epoch dicts"),
        ([1.0, 2.0], {}, TypeError, "every row of history must be a dict"),
        (ROWS, {"metrics": ("f1",)}, ValueError, r"no train_f1 or val_f1.*'train_loss'"),
        (ROWS, {"metrics": ("loss", "acc"), "ax": "axes"}, ValueError, "2 metrics"),
    ],
)
def test_training_curves_bad_input(history, kwargs, error, match):
    if kwargs.get("ax") == "axes":
        kwargs["ax"] = plt.subplots()[1]
        match = "got 1 Axes for 2 metrics"
    with pytest.raises(error, match=match):
        plots.training_curves(history, **kwargs)


# --------------------------------------------------------------------------- thresholds


def test_precision_recall_vs_threshold_plots_the_sweep():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    s = np.clip(0.3 * y + 0.7 * rng.random(80), 0, 1)
    ax = plots.precision_recall_vs_threshold(y, s, mark_threshold=0.5)
    sweep = metrics.threshold_sweep(y, s)
    precision, recall, f1 = ax.get_lines()[:3]
    assert list(precision.get_ydata()) == pytest.approx(sweep.precision)
    assert list(recall.get_ydata()) == pytest.approx(sweep.recall)
    assert list(f1.get_xdata()) == pytest.approx(sweep.thresholds)
    at = metrics.threshold_sweep(y, s, [0.5])
    note = " ".join(texts(ax))
    assert f"precision {at.precision[0]:.2f}" in note and f"recall {at.recall[0]:.2f}" in note
    assert list(ax.get_lines()[3].get_xdata()) == [0.5, 0.5]  # the marked threshold
    assert "threshold" in ax.get_xlabel() and ax.get_ylabel()


def test_precision_recall_vs_threshold_bad_input():
    with pytest.raises(ValueError, match="scores contains 1 NaN"):
        plots.precision_recall_vs_threshold([0, 1], [0.1, np.nan])
    with pytest.raises(TypeError, match="mark_threshold must be a number"):
        plots.precision_recall_vs_threshold([0, 1], [0.1, 0.9], mark_threshold="0.5")


# --------------------------------------------------------------------------- bars


def test_bar_comparison_labels_every_bar():
    values = {"feature extraction": 0.81, "full fine-tuning": 0.9, "random init": 0.42}
    ax = plots.bar_comparison(values, ylabel="test accuracy")
    assert [p.get_height() for p in ax.patches] == pytest.approx(list(values.values()))
    assert [t.get_text() for t in ax.get_xticklabels()] == list(values)
    assert ax.get_ylabel() == "test accuracy"
    assert ax.get_title() == "Highest: full fine-tuning (0.900)"
    assert len(set(bar_colours(ax))) == 3
    assert ax.get_ylim() == pytest.approx((0, 1.1))


def test_bar_comparison_other_scales_and_titles():
    ax = plots.bar_comparison({"a": 3.0, "b": 12.0}, title="b takes four times longer")
    assert ax.get_title() == "b takes four times longer" and ax.get_ylim()[1] > 12


@pytest.mark.parametrize(
    "values, error, match",
    [
        ({}, ValueError, "non-empty dict"),
        ([0.5, 0.6], TypeError, r"non-empty dict.*\[0\.5, 0\.6\]"),
        ({"a": float("nan")}, ValueError, "'a'"),
        ({"a": "high"}, TypeError, "'a'.*'high'"),
    ],
)
def test_bar_comparison_bad_input(values, error, match):
    with pytest.raises(error, match=match):
        plots.bar_comparison(values)


# --------------------------------------------------------------------------- images


def test_image_grid_tiles_images_with_their_names():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (20, 3, 8, 8), dtype=np.uint8)
    labels = rng.integers(0, 5, 20)
    ax = plots.image_grid(images, labels, FLOWERS, n=6)
    assert texts(ax) == [FLOWERS[i] for i in labels[:6]]
    canvas = np.asarray(ax.images[0].get_array())
    assert np.array_equal(canvas[:8, :8], images[0].transpose(1, 2, 0))
    assert "6 of 20" in ax.get_title()


def test_image_grid_grayscale_and_fewer_images_than_n():
    images = np.full((3, 1, 4, 4), 7, dtype=np.uint8)
    ax = plots.image_grid(images, np.array([0, 1, 0]), ["a", "b"], n=16)
    assert len(texts(ax)) == 3
    assert np.asarray(ax.images[0].get_array())[0, 0].tolist() == [7, 7, 7]


@pytest.mark.parametrize(
    "images, labels, kwargs, error, match",
    [
        (np.zeros((2, 3, 4, 4), np.float32), [0, 1], {}, TypeError, "must be uint8.*float32"),
        (
            np.zeros((2, 4, 4, 3), np.uint8),
            [0, 1],
            {},
            ValueError,
            r"N x C x H x W.*\(2, 4, 4, 3\)",
        ),
        (np.zeros((2, 3, 4, 4), np.uint8), [0], {}, ValueError, "one per image"),
        (np.zeros((2, 3, 4, 4), np.uint8), [0, 7], {}, ValueError, r"integers 0..4.*\[0, 7\]"),
        (np.zeros((2, 3, 4, 4), np.uint8), [0, 1], {"n": 0}, ValueError, "n must be an integer"),
    ],
)
def test_image_grid_bad_input(images, labels, kwargs, error, match):
    with pytest.raises(error, match=match):
        plots.image_grid(images, np.array(labels), FLOWERS, **kwargs)


def test_drawing_writes_nothing_to_stderr(capfd):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 40)
    fig, axes = plt.subplots(2, 4, figsize=(16, 6), layout="constrained")
    plots.head_diagram([("backbone", "features"), ("fc", "Linear")], ax=axes[0, 0])
    plots.probability_bars([0.2, 0.8], ["no", "yes"], ax=axes[0, 1])
    plots.confusion_matrix_heatmap(y, 1 - y, ["no", "yes"], ax=axes[0, 2])
    plots.training_curves(ROWS, metrics=("loss",), ax=axes[0, 3])
    plots.precision_recall_vs_threshold(y, rng.random(40), ax=axes[1, 0], mark_threshold=0.3)
    plots.bar_comparison({"a": 0.5}, ax=axes[1, 1])
    plots.image_grid(
        rng.integers(0, 256, (4, 3, 8, 8), dtype=np.uint8), y[:4], ["no", "yes"], ax=axes[1, 2]
    )
    fig.canvas.draw()
    captured = capfd.readouterr()
    assert captured.err == ""


# --------------------------------------------------------------------------- course style
# Issue 25 (access): every figure readable without colour and at 100% zoom.

SAFE = {c.upper() for c in plots.OKABE_ITO.values()} | {plots.MUTED.upper()}


def _grey(hex_colour):
    return hex_colour[1:3] == hex_colour[3:5] == hex_colour[5:7]


def _assert_course_style(fig):
    """Every text >= MIN_FONT_SIZE; labelled lines in one axes differ in style; safe colours."""
    fig.canvas.draw()  # tick labels exist only once drawn
    small = [
        (t.get_text(), t.get_fontsize())
        for t in fig.findobj(matplotlib.text.Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < plots.MIN_FONT_SIZE
    ]
    assert not small, f"text below {plots.MIN_FONT_SIZE} pt: {small}"
    for ax in fig.axes:
        series = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        styles = [(line.get_linestyle(), line._unscaled_dash_pattern) for line in series]
        assert len(set(styles)) == len(styles), (
            f"lines {[line.get_label() for line in series]} share a line style: {styles}"
        )
        colours = [to_hex(line.get_color()).upper() for line in ax.get_lines()]
        colours += [
            to_hex(p.get_facecolor()).upper()
            for p in ax.patches
            if p.get_facecolor()[3] > 0  # drawn, not transparent
        ]
        unsafe = [c for c in colours if c not in SAFE and not _grey(c)]
        assert not unsafe, f"colours outside Okabe-Ito and greys: {unsafe}"
        for image in ax.images:
            if image.get_array().ndim == 2:  # a heat map, not a photo
                assert image.get_cmap().name == plots.SEQUENTIAL_CMAP


def _two_tasks():
    rng = np.random.default_rng(4)
    y1, y2 = rng.integers(0, 2, 120), (rng.random(120) < 0.1).astype(int)
    s1 = np.clip(0.4 * y1 + 0.6 * rng.random(120), 0, 1)
    s2 = np.clip(0.3 * y2 + 0.7 * rng.random(120), 0, 1)
    return {"first": (y1, s1), "second": (y2, s2)}


def _draw(name):
    rng = np.random.default_rng(5)
    y = rng.integers(0, 5, 60)
    if name == "head_diagram":
        vgg = [("features", "convolutions"), ("avgpool", "pooled maps")] + [
            (f"classifier.{i}", "Linear 25088 -> 4096") for i in (0, 3, 6)
        ]
        return plots.head_diagram(vgg).figure
    if name == "probability_bars":
        return plots.probability_bars([0.1, 0.05, 0.6, 0.15, 0.1], FLOWERS).figure
    if name == "confusion_matrix_heatmap":
        return plots.confusion_matrix_heatmap(y, np.roll(y, 1), FLOWERS).figure
    if name == "training_curves":
        return plots.training_curves(ROWS + [{"epoch": 5, "val_acc": 0.7, "train_acc": 0.9}])
    if name == "precision_recall_vs_threshold":
        y1, s1 = _two_tasks()["first"]
        return plots.precision_recall_vs_threshold(y1, s1, mark_threshold=0.5).figure
    if name == "bar_comparison":
        return plots.bar_comparison({f"set-up {i}": 0.1 * i for i in range(1, 9)}).figure
    if name == "image_grid":
        images = rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8)
        return plots.image_grid(images, y[:12], FLOWERS, n=12).figure
    if name == "score_curves":
        return plots.score_curves(_two_tasks())
    if name == "bar_with_spread":
        runs = {"head only": [0.95, 0.955, 0.95], "full": [0.94, 0.96, 0.955]}
        return plots.bar_with_spread(runs, ylabel="validation accuracy").figure
    raise AssertionError(name)


DRAWERS = [
    "head_diagram",
    "probability_bars",
    "confusion_matrix_heatmap",
    "training_curves",
    "precision_recall_vs_threshold",
    "bar_comparison",
    "image_grid",
    "score_curves",
    "bar_with_spread",
]


def test_every_plot_function_is_tested_for_the_course_style():
    drawing = {n for n in plots.__all__ if callable(getattr(plots, n))}
    drawing -= {"course_rc", "course_style", "use_course_style"}
    assert drawing == set(DRAWERS)


@pytest.mark.parametrize("name", DRAWERS)
def test_plot_functions_draw_in_course_style(name):
    _assert_course_style(_draw(name))


def test_image_grid_labels_are_readable():
    images = np.zeros((4, 3, 32, 32), np.uint8)
    ax = plots.image_grid(images, np.array([0, 1, 2, 3]), FLOWERS)
    assert {t.get_fontsize() for t in ax.texts} == {plots.MIN_FONT_SIZE}  # was 7 pt


def test_score_curves_chance_level_in_each_curves_colour():
    fig = plots.score_curves(_two_tasks(), titles=("PR", "ROC"))
    left, right = fig.axes
    assert [ax.get_title() for ax in (left, right)] == ["PR", "ROC"]
    labels = [line.get_label() for line in left.get_lines()]
    assert labels[0].startswith("first") and labels[1].startswith("Chance level")
    curve, chance = left.get_lines()[:2]
    assert curve.get_color() == chance.get_color() == plots.PALETTE[0]
    assert sum(line.get_label().startswith("Chance") for line in right.get_lines()) == 1
    with pytest.raises(TypeError, match="non-empty dict"):
        plots.score_curves({})


def test_plain_matplotlib_and_sklearn_displays_get_the_course_style():
    # Lessons also draw with ax.plot and scikit-learn's displays directly: the style
    # applied on import must reach them too.
    from sklearn.metrics import PrecisionRecallDisplay

    fig, (left, right) = plt.subplots(1, 2, layout="constrained")
    for k in range(len(plots.PALETTE)):
        left.plot([0, 1], [k, k + 1], label=f"series {k}")
    left.legend()
    left.set_title("eight series")
    for name, (y, s) in _two_tasks().items():
        PrecisionRecallDisplay.from_predictions(y, s, name=name, ax=right)
    colours = [to_hex(line.get_color()).upper() for line in left.get_lines()]
    assert colours == [c.upper() for c in plots.PALETTE]
    _assert_course_style(fig)


def test_course_style_context_restores_the_defaults():
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        default = matplotlib.rcParams["font.size"]
        assert default != plots.course_rc()["font.size"]
        with plots.course_style():
            fig, ax = plt.subplots()
            ax.plot([0, 1])
            ax.plot([1, 0])
            assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "-."]
            assert matplotlib.rcParams["xtick.labelsize"] >= plots.MIN_FONT_SIZE
        assert matplotlib.rcParams["font.size"] == default


def test_course_style_larger_text_for_a_projector_never_smaller():
    assert plots.course_rc(14)["xtick.labelsize"] == 14
    with pytest.raises(ValueError, match="at least 10 points.*got 8"):
        plots.course_rc(8)
    with pytest.raises(TypeError, match="whole number of points, got '12'"):
        plots.course_rc("12")


def _solution_code():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.glob("solutions/lesson*/lesson*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                yield f"{path.parent.name} cell {i}", "".join(cell["source"])


def test_lessons_draw_no_small_text_and_no_colours_of_their_own():
    # Figures in the lessons take their look from the course style: no literal font sizes
    # below the minimum, no colour outside the palette, no per-cell rcParams copies.
    import re

    bad = []
    for where, code in _solution_code():
        for size in re.findall(r"fontsize\s*=\s*([0-9.]+)", code):
            if float(size) < plots.MIN_FONT_SIZE:
                bad.append((where, f"fontsize={size}"))
        for colour in re.findall(r"colou?r\s*=\s*['\"](#[0-9A-Fa-f]{6})['\"]", code):
            if colour.upper() not in SAFE:
                bad.append((where, colour))
        if "rcParams" in code or "rc_context" in code:
            bad.append((where, "rcParams"))
    assert not bad


# --------------------------------------------------------------------------- bars with spread


def test_bar_with_spread_draws_mean_range_and_every_seed():
    runs = {"head": [0.95, 0.955, 0.96], "full": [0.94, 0.96, 0.955]}
    ax = plots.bar_with_spread(runs, ylabel="validation accuracy", title="overlap")
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.955, 0.951667], abs=1e-5)
    # one min-max error bar per set-up, from the lowest to the highest run
    segments = [seg for c in ax.collections for seg in c.get_segments()]
    spans = sorted(v for s in segments for v in (float(s[:, 1].min()), float(s[:, 1].max())))
    assert spans == pytest.approx(sorted([0.94, 0.96, 0.95, 0.96]))
    assert len(segments) == 2
    # each run is a dot: 3 per set-up
    dots = [len(line.get_ydata()) for line in ax.lines if line.get_marker() == "o"]
    assert dots == [3, 3]
    assert ax.get_title() == "overlap" and ax.get_ylabel() == "validation accuracy"


@pytest.mark.parametrize("runs", [{}, {"a": []}, {"a": "0.9"}, [0.9, 0.8]])
def test_bar_with_spread_refuses_what_is_no_list_of_runs(runs):
    with pytest.raises((TypeError, ValueError), match="runs"):
        plots.bar_with_spread(runs)
