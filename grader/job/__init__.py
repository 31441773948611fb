"""One grading job: one submission graded in the sandbox, into a score, cell records and a page.

``worker`` is the job's process (``python -m grader.job.worker JOBDIR``, cold, or
forked warm by ``zygote``, which imports the heavy libraries once): it runs
nbgrader's autograde with ``execute`` (the sandboxed preprocessor), whose
``guard`` keeps the tests' verdicts out of the student's reach; ``feedback``
makes the returned page without hidden tests or solutions, and ``records`` keeps,
per graded cell, what a student may see anyway (passed, the misconception named).
A job knows one notebook and its lesson, never the class.
"""
