"""Sub-commands of the ``course`` CLI, one module each."""
