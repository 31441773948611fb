"""Grading a class: from a folder or zip of submissions to one ``Outcome`` per student and lesson.

``intake`` finds the submissions (a folder, an nbgrader tree, an LMS zip) and
matches them to the roster; ``engine`` prepares each lesson once (released
notebook, hidden tests, secrets) and runs one sandboxed job per submission
(``grader.job``), locally in a process pool; ``runners`` runs the same jobs on a
Dask cluster. The books (``grader.books``) write what comes out.
"""
