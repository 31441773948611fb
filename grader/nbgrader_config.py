"""nbgrader configuration for the Swap the Head course (instructors).

The course root is the repository: nbgrader's "source" step is ``solutions/``
and its "release" step is ``notebooks/``. ``course release`` and
``course grade`` load this file too, then re-root it in a throwaway folder
(their own gradebook), so what is set here is what every grading path uses.
See ``grader/README.md``.
"""

from pathlib import Path

c = get_config()  # noqa: F821 - injected by traitlets when it loads this file

ROOT = Path(__file__).resolve().parent.parent

# --- where things live -------------------------------------------------------
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.course_id = "swap-the-head"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# nbgrader's working folders stay under grader/ and out of git (see .gitignore).
c.CourseDirectory.submitted_directory = "grader/submitted"
c.CourseDirectory.autograded_directory = "grader/autograded"
c.CourseDirectory.feedback_directory = "grader/feedback"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'grader' / 'gradebook.db'}"

# --- generating student notebooks ---------------------------------------------
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
c.ClearHiddenTests.enforce_metadata = True

# --- autograding ---------------------------------------------------------------
# Lesson 5 fine-tunes a network on the CPU: give one cell two minutes.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
# Always the course's Python kernel, whatever kernelspec a submission claims.
c.Execute.kernel_name = "python3"
# Restore graded cells a student deleted (they then fail instead of vanishing).
c.OverwriteCells.add_missing_cells = True
# Output a cell may leave in the graded notebook.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100
# A grade cell that writes to stderr scores 0 in nbgrader: drop the known harmless lines.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"Matplotlib is building the font cache"
    r"|Could not initialize NNPACK"
    r"|Failed to load image Python extension"
    r"|OMP: Info #"
)
