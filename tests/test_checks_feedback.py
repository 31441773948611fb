import pytest

from course_utils.checks import ExerciseError, check_choice
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
