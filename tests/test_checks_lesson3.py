import pytest
import torch
import torchvision
from torch import nn

from course_utils import heads
from course_utils.checks import ExerciseError
from course_utils.checks import lesson3 as checks


def predict_output_shape(model, input_shape):
    head = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    classes = head.out_channels if isinstance(head, nn.Conv2d) else head.out_features
    return (input_shape[0], classes)


def predict(logits):
    probabilities = torch.softmax(logits, dim=-1)
    return probabilities, probabilities.argmax(dim=-1)


def failure(check, *args) -> ExerciseError:
    with pytest.raises(ExerciseError) as info:
        check(*args)
    return info.value


def feedback(check, *args, **kwargs) -> str:
    with pytest.raises(ExerciseError) as info:
        check(*args, **kwargs)
    return str(info.value)


# --------------------------------------------------------------------------- output shape


def test_output_shape_accepts_reasoning_and_meta_forward_answers(capsys):
    def meta_forward(model, input_shape):
        return tuple(model(torch.empty(input_shape, device="meta")).shape)

    cases = [
        ("resnet18", 5, (1, 3, 224, 224)),
        ("resnet50", 10, (4, 3, 224, 224)),
        ("vgg11", 3, (2, 3, 224, 224)),
        ("squeezenet1_1", 7, (3, 3, 224, 224)),
    ]
    checks.check_output_shape(predict_output_shape, *cases)
    checks.check_output_shape(meta_forward, *cases[:2])
    tiny = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    checks.check_output_shape(predict_output_shape, (tiny, (5, 3, 16, 16)))
    assert capsys.readouterr().out.count("Correct") == 3


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (lambda m, s: s, "reading the input shape as the output shape"),
        (lambda m, s: (s[0], 1000), "expecting 1000 outputs still"),
        (lambda m, s: (s[0], m.fc.in_features), "feature size confused with output size"),
        (lambda m, s: (m.fc.out_features,), "forgot the batch dimension"),
        (lambda m, s: (1, m.fc.out_features), "hard-coded batch size"),
        (lambda m, s: (m.fc.out_features, s[0]), "axes swapped"),
        (lambda m, s: [s[0], m.fc.out_features, 1], "a tuple of ints expected"),
        (lambda m, s: f"({s[0]}, 5)", "a tuple of ints expected"),
        (lambda m, s: (s[0], 7), "does not follow from the model's head"),
        (lambda m, s: m(torch.zeros(s)), "a device assumed"),
        (lambda m, s: 1 / 0, "the code does not run"),
    ],
)
def test_output_shape_names_each_misconception(answer, named):
    text = feedback(checks.check_output_shape, answer, ("resnet18", 5, (8, 3, 32, 32)))
    assert named in text
    crashed = named in ("the code does not run", "a device assumed")
    assert ("(8, 5)" in text) is not crashed  # a crash gets no answer


def test_output_shape_hard_coded_visible_answer_fails_other_cases():
    def visible_only(model, input_shape):
        return (1, 5)

    assert "hard-coded batch size" in feedback(checks.check_output_shape, visible_only)
    assert "hard-coded batch size" in feedback(
        checks.check_output_shape, visible_only, ("resnet18", 5, (4, 3, 224, 224))
    )
    assert "does not follow from the model's head" in feedback(
        checks.check_output_shape, visible_only, ("resnet50", 10, (1, 3, 224, 224))
    )


# --------------------------------------------------------------------------- predict


def test_predict_accepts_softmax_then_argmax_on_many_logits(capsys):
    g = torch.Generator().manual_seed(0)
    checks.check_predict(predict)
    checks.check_predict(
        predict,
        torch.randn(1, 24, generator=g),
        torch.randn(7, 2, generator=g),
        [[1000.0, 0.0, -1000.0], [-50.0, 60.0, 0.0]],
    )
    assert capsys.readouterr().out.count("Correct") == 2


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (lambda z: (torch.softmax(z, 0), torch.softmax(z, 0).argmax(1)), "softmax over the batch"),
        (lambda z: (torch.sigmoid(z), z.argmax(1)), "sigmoid instead of softmax"),
        (lambda z: (z, z.argmax(1)), "logits used as probabilities"),
        (
            lambda z: (torch.softmax(z, 1), torch.softmax(z, 1).max(1).values),
            "the highest probability, not its index",
        ),
        (lambda z: (torch.softmax(z, 1), torch.softmax(z, 1).argmax(0)), "argmax over the wrong"),
        (lambda z: (torch.softmax(z, 1), z.argmax(1, keepdim=True)), "extra dimension"),
        (lambda z: (torch.softmax(z, 1), z.argmin(1)), "argmax over the wrong axis or of"),
        (lambda z: (z.exp() / z.exp().sum(1, keepdim=True), z.argmax(1)), "numerically unstable"),
        # Right numbers (softmax ignores a shift), but the caller's logits were changed.
        (lambda z: (torch.softmax(z.sub_(0.5), 1), z.argmax(1)), "modified the input"),
        (lambda z: torch.softmax(z, 1), "a pair of tensors expected"),
        (lambda z: (torch.softmax(z, 1).tolist(), z.argmax(1)), "a pair of tensors expected"),
        (lambda z: (torch.softmax(z, 1).numpy(), z.argmax(1)), "a pair of tensors expected"),
        (lambda z: z.nonexistent(), "the code does not run"),
    ],
)
def test_predict_names_each_misconception(answer, named):
    logits = [[2.0, 1.0, 0.1], [0.0, 3.0, 0.2], [1000.0, -5.0, 4.0], [0.5, 0.4, 9.0]]
    assert named in feedback(checks.check_predict, answer, logits)


def test_predict_refuses_tensor_subclasses_that_fake_comparisons():
    class Agreeable(torch.Tensor):
        pass

    def sneaky(z):
        p = torch.softmax(z, 1)
        return p.as_subclass(Agreeable), p.argmax(1)

    assert "a pair of tensors expected" in feedback(checks.check_predict, sneaky)


def test_predict_rejects_bad_checker_input():
    with pytest.raises(ValueError, match=r"\(classes,\)"):
        checks.check_predict(predict, [[[1.0, 2.0]]])


def test_predict_transfers_to_one_image_logits(capsys):
    """Exercise 2 no longer copies the section's dim=1: one image's logits are 1-D."""

    def copied(z):
        return torch.softmax(z, dim=1), torch.softmax(z, dim=1).argmax(dim=1)

    err = failure(checks.check_predict, copied)
    assert err.misconception_id == "lesson3.class_axis_hard_coded"
    checks.check_predict(predict, [0.1, 3.0, -2.0])
    assert "Correct" in capsys.readouterr().out
    # A batch-style answer that returns shape (1,) for one image: one index per image, ().
    err = failure(checks.check_predict, lambda z: (z.softmax(-1), torch.atleast_2d(z).argmax(1)))
    assert err.misconception_id == "lesson3.extra_dimension"


# --------------------------------------------------------------------------- short answers


def test_output_count_is_measured_and_names_misconceptions(capsys):
    checks.check_output_count(8 * 24)
    checks.check_output_count(3 * 5, batch=3, num_classes=5)
    assert capsys.readouterr().out.count("Correct") == 2
    assert "feature size confused" in feedback(checks.check_output_count, 8 * 512)
    assert "forgot the batch" in feedback(checks.check_output_count, 24)
    assert "1000 outputs" in feedback(checks.check_output_count, 8000)
    assert "input shape" in feedback(checks.check_output_count, 8 * 3 * 32 * 32)
    assert "not rows x columns" in feedback(checks.check_output_count, 7)
    assert "the flower head" in feedback(checks.check_output_count, 40)
    text = feedback(checks.check_output_count, "192")
    assert "a whole number (int) expected" in text and "a str" in text and "192: 192" not in text
    assert "a whole number (int) expected" in feedback(checks.check_output_count, 192.0)


def test_an_untouched_stub_is_left_to_nbgrader():
    def stub(*args):
        raise NotImplementedError()

    for check in (checks.check_output_shape, checks.check_predict):
        with pytest.raises(NotImplementedError):
            check(stub)


def test_visible_checks_catch_overflow_resnet_only_and_meta_only_answers(capsys):
    def by_hand(z):
        p = z.exp() / z.exp().sum(1, keepdim=True)
        return p, p.argmax(1)

    assert "numerically unstable" in feedback(checks.check_predict, by_hand)

    def resnet_only(model, shape):
        return (shape[0], model.fc.out_features)

    assert "only for a ResNet" in feedback(checks.check_output_shape, resnet_only)

    def meta_only(model, shape):
        return tuple(model(torch.empty(shape, device="meta")).shape)

    checks.check_output_shape(meta_only)  # right on meta models ...
    cpu = torchvision.models.resnet18(num_classes=3).eval()
    assert "a device assumed" in feedback(
        checks.check_output_shape, meta_only, (cpu, (2, 3, 32, 32))
    )  # ... named on a CPU one


def test_visible_success_messages_say_what_was_checked(capsys):
    checks.check_output_shape(lambda m, s: (s[0], heads.find_head(m).out_features))
    checks.check_predict(predict)
    out = capsys.readouterr().out
    assert "resnet18 with 5 classes on the meta device" in out and "vgg11 with 3 classes" in out
    assert "small, very large and one image's alone" in out
