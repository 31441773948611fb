"""Swap the Head: the library behind the course.

One module per idea: ``heads`` (find and replace a classifier head),
``freezing``, ``metrics``, ``diagnose``, ``data``, ``backbones``,
``training``, ``plots`` and ``checks`` (exercise feedback). Import the
module you need; this package does not import torch eagerly.
"""

__version__ = "0.1.0"
