"""Grading a class: from a folder or zip of submissions to one ``Outcome`` per student and lesson.

``intake`` finds the submissions (a folder, an nbgrader tree, an LMS zip) and
matches them to the roster; ``engine`` prepares each lesson once (released
notebook, hidden tests, secrets), reads each submission once and runs the one
grading loop: it hands one sandboxed job per notebook (``grader.job``) to a
runner and turns what each job left, or that it left nothing, into an outcome
and a page in one place; ``runners`` are where the jobs run (``LocalRunner``:
``--jobs`` at a time on this machine; ``DaskRunner``: a Dask cluster) and import
nothing from the engine. The books (``grader.books``) write what comes out.
"""
