"""The books: what a class's grading writes and what an instructor reads back.

``roster`` reads the class list (LMS exports, plain CSV), ``gradebook`` keeps the
course gradebook that accumulates every run's grades (with overrides, and its
history of earlier versions), ``results`` writes a run's ``grades.csv`` and
``records.jsonl`` (``Outcome`` is one student's result for one lesson),
``exports`` turns the gradebook into what an LMS imports (Canvas, Moodle, zips of
feedback pages), and ``report`` builds the class report from grades and records.
Nothing here runs a notebook.
"""
