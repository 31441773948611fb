import pytest

from course_utils.checks import ExerciseError, check_choice, fail
from course_utils.checks._feedback import call_student


def test_call_student_turns_errors_into_feedback_but_keeps_the_stub():
    def stub():
        raise NotImplementedError()

    def broken(x):
        return x / 0

    with pytest.raises(NotImplementedError):
        call_student(stub, what="f()")
    with pytest.raises(ExerciseError, match="ZeroDivisionError") as info:
        call_student(broken, 1, what="f(1)")
    assert info.value.misconception == "the code does not run"
    assert call_student(lambda x, y=1: x + y, 1, y=2, what="g") == 3


def test_check_choice_names_the_misconception(capsys):
    why = {"A": "accuracy hides the misses", "C": "speed is not the point"}
    with pytest.raises(ExerciseError, match="accuracy hides the misses"):
        check_choice("a", "B", why, question="q", confirmation="yes")
    with pytest.raises(ExerciseError, match="one letter among A, B, C"):
        check_choice(2, "B", why, question="q", confirmation="yes")
    check_choice(" b ", "B", why, question="q", confirmation="recall matters")
    assert capsys.readouterr().out == "Correct: recall matters\n"


def test_call_student_lets_a_lesson_name_known_errors():
    def explain(exc):
        return (
            (
                "a model-agnostic function",
                "search the modules",
                "treating every model like a ResNet",
            )
            if isinstance(exc, AttributeError)
            else None
        )

    with pytest.raises(ExerciseError, match="treating every model like a ResNet"):
        call_student(lambda: object().fc, what="f()", explain=explain)
    with pytest.raises(ExerciseError, match="the code does not run"):
        call_student(lambda: 1 / 0, what="f()", explain=explain)


def test_check_choice_ignores_a_str_subclass_that_fakes_its_letter():
    class Fake(str):
        def strip(self):
            return "B"

        def upper(self):
            return "B"

    with pytest.raises(ExerciseError, match="misconception"):
        check_choice(Fake("A"), "B", {"A": "wrong"}, question="q", confirmation="yes")


def test_registered_misconceptions_are_named_with_id_and_section():
    from course_utils.checks import Misconception, all_misconceptions, registry
    from course_utils.checks._feedback import REVIEW_LINE

    found = registry("lesson9", Misconception("typed_size", "size typed as a number", "9.2 Sizes"))
    assert found["typed_size"].id == "lesson9.typed_size"
    with pytest.raises(ExerciseError) as info:
        fail("a size read from the model", "512", "read in_features", found["typed_size"])
    assert info.value.misconception == "size typed as a number"
    assert info.value.misconception_id == "lesson9.typed_size"
    match = REVIEW_LINE.search(str(info.value))
    assert (
        match
        and match.group("id") == "lesson9.typed_size"
        and match.group("section") == "9.2 Sizes"
    )
    with pytest.raises(ValueError, match="registered twice"):
        registry("lesson9", Misconception("a", "x", "y"), Misconception("a", "z", "y"))
    with pytest.raises(ValueError, match="must look like"):
        registry("lesson9", Misconception("Bad-Id", "x", "y"))
    everything = all_misconceptions()
    assert "course.code_error" in everything
    assert all(m.id == key for key, m in everything.items())


def test_choice_names_the_registered_misconception_of_a_wrong_option():
    from course_utils.checks import Misconception, registry

    named = registry(
        "lesson9", Misconception("head_is_backbone", "head mistaken for backbone", "9.1")
    )
    with pytest.raises(ExerciseError) as info:
        check_choice(
            "b",
            "A",
            {"B": ("the head holds the features", named["head_is_backbone"])},
            question="q",
            confirmation="ok",
        )
    assert info.value.misconception_id == "lesson9.head_is_backbone"
    assert "the head holds the features" in str(info.value)


def test_toolkit_finds_heads_with_course_utils_heads():
    from course_utils.checks import _toolkit

    model = _toolkit.build("resnet18", 7)
    assert _toolkit.head_path(model) == "fc"
    assert _toolkit.build("vgg11", 7).classifier[6].out_features == 7
    assert _toolkit.head_path(_toolkit.build("vgg11", 7)) == "classifier.6"
    assert _toolkit.plain_int(True) is None and _toolkit.plain_int(3) == 3
    assert _toolkit.to_numpy([1, 2]).tolist() == [1, 2]


def test_record_choice_says_the_same_for_every_letter_and_refuses_other_forms(capsys):
    from course_utils.checks import Choice, record_choice

    item = Choice("q", {"A": "fact a", "B": "fact b", "C": "fact c"})
    for letter in ("a", " B ", "c"):
        record_choice(letter, item)
    out = capsys.readouterr().out.splitlines()
    assert [line.startswith("Recorded: ") for line in out] == [True] * 3
    assert "Correct" not in "".join(out)
    for bad in ("D", 2, None, ["A"]):
        with pytest.raises(ExerciseError) as err:
            record_choice(bad, item)
        assert err.value.misconception_id == "course.invalid_option"


def test_grade_choice_scores_and_explains_every_option(capsys):
    from course_utils.checks import Choice, Misconception, grade_choice

    item = Choice("q", {"A": "fact a", "B": "fact b", "C": "fact c"})
    named = Misconception("course.x", "an idea", "a section")
    grade_choice(" b", item, "B", {"A": named, "C": named})
    out = capsys.readouterr().out
    assert out.startswith("Correct: option B") and "A (wrong): fact a" in out
    with pytest.raises(ExerciseError) as err:
        grade_choice("C", item, "B", {"A": named, "C": named})
    text = str(err.value)
    assert err.value.misconception_id == "course.x" and "B (right): fact b" in text
    assert text.rstrip().endswith("[course.x]")  # the Review line stays last (the report reads it)
    with pytest.raises(ValueError, match="each other letter"):
        grade_choice("A", item, "B", {"A": named})  # C has no misconception: an authoring error


def test_choice_needs_an_explanation_for_every_option():
    from course_utils.checks import Choice

    with pytest.raises(ValueError, match="explanation"):
        Choice("q", {"A": "fact", "B": " "})
    with pytest.raises(ValueError, match="letter order"):
        Choice("q", {"B": "fact", "A": "fact"})


def test_switched_off_reaches_every_name_and_puts_everything_back():
    """A library function is switched off however the student reached it, and only inside."""
    from course_utils import judging, metrics
    from course_utils.checks._toolkit import LibraryCalled, library_explainer, switched_off

    bound_before = metrics.choose_threshold  # ``from course_utils.metrics import ...``
    y, scores = [1, 0, 1, 1], [0.9, 0.8, 0.4, 0.7]
    want = metrics.choose_threshold(y, scores, min_recall=0.5)
    explain = library_explainer("e", "h", "m", otherwise=lambda exc: ("x", "y", "z"))
    with switched_off(metrics.choose_threshold, judging.rubric):
        for call in (
            lambda: bound_before(y, scores, min_recall=0.5),
            lambda: metrics.choose_threshold(y, scores, min_precision=0.5),
            lambda: judging.course_policy(0.9, 0.9, 0.9),  # calls rubric inside
        ):
            with pytest.raises(LibraryCalled) as caught:
                call()
            assert explain(caught.value) == ("e", "h", "m")
    assert explain(ValueError()) == ("x", "y", "z")
    # Code and keyword defaults are back: these calls rely on the default positive=1.
    assert metrics.choose_threshold(y, scores, min_recall=0.5) == want
    assert bound_before(y, scores, min_recall=0.5) == want
    assert judging.rubric(0.9, 0.9, 0.9).label == "good"
