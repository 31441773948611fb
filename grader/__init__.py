"""Instructor tools: student notebooks from ``solutions/`` and sandboxed autograding.

One module per idea:

- ``course``: where the course lives, its nbgrader config, and running
  ``generate_assignment`` in a throwaway course directory.
- ``release``: byte-stable student notebooks, written only over files that
  ``course release`` itself made.
- ``layout``: finding submissions in a folder, an nbgrader tree or an LMS zip.
- ``sandbox``, ``kernel``, ``guard``, ``execute``, ``worker``: grading one
  untrusted notebook in a subprocess with limits.
- ``feedback``: feedback HTML without hidden tests or solutions.
- ``autograde``, ``results``: grading a class and writing ``grades.csv``.

Only the standard library is imported here, so ``course --help`` stays fast;
jsonschema's IRI parsers, which every command would otherwise build on import,
wait until something checks an IRI (``_deferred_iri``).
"""

from grader import _deferred_iri

_deferred_iri.defer()
