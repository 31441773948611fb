"""Instructor tools: student notebooks from ``solutions/`` and sandboxed autograding.

Layers, each a subpackage that imports only from the ones listed before it
(``tests/test_layers.py`` holds the order; ``python tests/_imports.py`` prints it):

- ``_deferred_iri``, ``_common``, ``_libc``, ``_course``, ``_lesson_html``:
  infrastructure. Shared helpers (natural sort, lesson ids, numbers); the C
  library's handle and constants (namespaces, mounts, prctl); where the course lives,
  its nbgrader config and ``generate_assignment`` in a throwaway copy; the
  accessible HTML export that lessons and feedback pages share.
- ``sandbox``: limits, the kernel's lock-down and its launcher.
- ``job``: one untrusted notebook graded (worker, execution, guard, feedback,
  cell records, the warm zygote).
- ``books``: roster, gradebook, grades and records, LMS exports, the class report.
- ``classwork``: a class graded (intake of submissions, the engine, the runners).
- ``authoring``: releasing lessons and checking them, scaffolding, pretraining.
- ``exchange``: nbgrader's exchange (publish, collect, return feedback, submit).
- ``hub``: the class's JupyterHub on one machine.
- ``commands``, ``cli``: the ``course`` command on top.

Only the standard library is imported here, so ``course --help`` stays fast;
jsonschema's IRI parsers, which every command would otherwise build on import,
wait until something checks an IRI (``_deferred_iri``).
"""

from grader import _deferred_iri

_deferred_iri.defer()
