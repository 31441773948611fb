"""Exercise checkers, one module per lesson (``checks.lesson1`` ... ``checks.lesson7``).

Every checker returns nothing and prints a short confirmation when the answer
is right; when it is wrong it raises :class:`ExerciseError`, an ``AssertionError``
whose message has three parts (expected / your answer shows / hint), so the
nbgrader test cell fails with a message the student can act on.
"""

from course_utils.checks._feedback import ExerciseError, check_choice, correct, fail

__all__ = ["ExerciseError", "check_choice", "correct", "fail"]
